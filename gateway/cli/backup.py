"""flask backup: a PostgreSQL dump, proven by a restore."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.engine import make_url

from gateway import backup as backups
from gateway.cli.common import PlainError, settings

group = AppGroup(
    "backup",
    help="""PostgreSQL backups, proven by a restore.

\b
Examples:
  ./ijwi backup check --dump /var/backups/ijwi/ijwi-2026-12-01.dump
""",
)


@group.command("check", short_help="Dump the database, restore it into a scratch one, compare counts.")
@click.option(
    "--dump",
    "dump_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the dump (pg_dump's custom format; restore it with pg_restore).",
)
@click.option(
    "--restore-into",
    default=None,
    help="A scratch database on the same server, dropped and created (default: <database>_restore_check).",
)
def check(dump_file: Path, restore_into: str | None) -> None:
    """Dump DATABASE_URL, restore the dump into a scratch database, compare every table's row count."""
    url = settings().database_url
    try:
        scratch = restore_into or f"{make_url(url).database}_restore_check"
        counts = backups.dump_and_verify(url, dump_file, scratch)
    except backups.BackupError as exc:
        raise PlainError(f"no backup checked: {exc}") from None
    width = max(len(c.table) for c in counts)
    click.echo(f"{'table'.ljust(width)}  {'dumped':>9}  {'restored':>9}")
    for c in counts:
        mark = "" if c.matches else "  DIFFERS"
        click.echo(f"{c.table.ljust(width)}  {c.dumped:>9}  {c.restored:>9}{mark}")
    bad = [c.table for c in counts if not c.matches]
    if bad:
        raise PlainError(f"the restore differs in {', '.join(bad)}: the dump {dump_file} is not a backup")
    rows = sum(c.dumped for c in counts)
    click.echo(f"backup {dump_file} restored and checked: {len(counts)} tables, {rows} rows")
