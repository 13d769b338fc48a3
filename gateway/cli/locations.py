"""flask locations: Rwanda's administrative divisions."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from gateway import runtime
from gateway.cli.common import BadInputError, input_file
from gateway.cli.progress import progress
from gateway.registry import imports as registry

group = AppGroup(
    "locations",
    help="""Rwanda's administrative divisions.

\b
Examples:
  ./ijwi locations import
  ./ijwi locations import rwanda-locations.json
""",
)


@group.command("import", short_help="Load provinces to villages (default: the shipped copy).")
@click.argument("file", required=False, type=input_file())
def locations_import(file: Path | None) -> None:
    """Load provinces, districts, sectors, cells and villages (default: the shipped copy)."""
    try:
        with progress("locations") as report:
            summary = registry.import_locations(runtime.current(), file or registry.SHIPPED_LOCATIONS, report)
    except registry.RegistryImportError as exc:
        raise BadInputError(f"nothing imported: {exc}") from None
    click.echo(f"locations: {summary.created} added, {summary.updated} renamed")
