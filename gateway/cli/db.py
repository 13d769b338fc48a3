"""flask db: the database schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway import runtime

group = AppGroup(
    "db",
    help="""The database schema.

\b
Examples:
  ./ijwi db upgrade
""",
)


@group.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration the database lacks."""
    from gateway import migrate

    migrate.upgrade(runtime.current().settings.database_url)
    click.echo("database is up to date")
