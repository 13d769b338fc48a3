"""flask officers: the registry of officers."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.cli.common import import_file, input_file
from gateway.registry import imports as registry

group = AppGroup(
    "officers",
    help="""The registry of officers.

\b
Examples:
  ./ijwi officers import officers.csv   # name,phone,role,district,sector,on_duty,language
""",
)


@group.command("import", short_help="Add or update officers from a CSV file, all or nothing.")
@click.argument("file", type=input_file())
def officers_import(file: Path) -> None:
    """Add or update officers from a CSV (name,phone,role,district,sector,on_duty,language)."""
    import_file("officers", registry.import_officers, file)
