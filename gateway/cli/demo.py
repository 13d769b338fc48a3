"""flask demo: demonstration data."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway import runtime

group = AppGroup(
    "demo",
    help="""Demonstration data.

\b
Examples:
  ./ijwi demo seed
""",
)


@group.command("seed", short_help="Load places, a few officers and volunteers to try.")
def demo_seed() -> None:
    """Load the places and a few officers and volunteers to try the gateway with."""
    from gateway.registry.demo import seed

    for line in seed(runtime.current()):
        click.echo(line)
