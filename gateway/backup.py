"""PostgreSQL backups proven by a restore: dump, restore into a fresh database, compare row counts.

The rows are counted in the very snapshot pg_dump writes (an exported snapshot held open by a
repeatable-read transaction), so the check is exact on a live database too.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

# The client programs the check runs, and the Debian package that has them.
PROGRAMS = ("pg_dump", "pg_restore")
PACKAGE = "postgresql-client"
# Tables counted: every ordinary table of the public schema.
TABLES_QUERY = (
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
)


class BackupError(RuntimeError):
    """The dump or the restore could not be made; the message says what to fix."""


@dataclass(frozen=True)
class TableCount:
    table: str
    dumped: int
    restored: int

    @property
    def matches(self) -> bool:
        return self.dumped == self.restored


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as libpq and the pg_* programs take it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BackupError(f"backups are made of PostgreSQL databases, not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def restore_url(source_url: str, database: str) -> str:
    """The URL of database on the same server as source_url."""
    return make_url(libpq_url(source_url)).set(database=database).render_as_string(hide_password=False)


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if shutil.which(program) is None]


def dump_and_verify(source_url: str, dump_file: Path, restore_database: str) -> list[TableCount]:
    """Dump source_url to dump_file (pg_dump's custom format), restore it into restore_database
    (dropped and created on the same server, dropped again after), and count every table in both."""
    missing = missing_programs()
    if missing:
        raise BackupError(f"{', '.join(missing)} not found (apt-get install {PACKAGE})")
    source = libpq_url(source_url)
    if make_url(source).database == restore_database:
        raise BackupError("the restore database must not be the database backed up")
    dump_file.parent.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(source, autocommit=True) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot is not None
        dumped = _counts(connection)
        _run(["pg_dump", "--format=custom", f"--snapshot={snapshot[0]}", f"--file={dump_file}", source])
        connection.execute("COMMIT")
    target = restore_url(source_url, restore_database)
    _recreate(source, restore_database)
    try:
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={target}", str(dump_file)])
        with psycopg.connect(target) as connection:
            restored = _counts(connection)
    finally:
        _drop(source, restore_database)
    return [TableCount(table, dumped[table], restored.get(table, -1)) for table in sorted(dumped)]


def _counts(connection: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    tables = [str(row[0]) for row in connection.execute(TABLES_QUERY)]
    counts = {}
    for table in tables:
        row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        counts[table] = int(row[0]) if row else 0  # type: ignore[call-overload]
    return counts


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode:
        raise BackupError(f"{argv[0]} failed: {result.stderr.strip()[:500]}")


def _recreate(source: str, database: str) -> None:
    _drop(source, database)
    with psycopg.connect(source, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _drop(source: str, database: str) -> None:
    with psycopg.connect(source, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
