"""backup check: a pg_dump restored into a fresh database, row counts compared, on the machine's
PostgreSQL (the run's database when TEST_DATABASE_URL names one, else a small one of its own).
Skipped only when pg_dump or PostgreSQL is absent."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy.engine import make_url

from gateway import backup, migrate
from gateway.app import create_app
from gateway.config import Settings
from gateway.registry import imports
from gateway.runtime import Runtime
from tests.helpers import make_report

# The server a run on SQLite uses, and the scratch database the restore goes into.
SERVER_URL = os.environ.get("TEST_BACKUP_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RESTORE_DATABASE = os.environ.get("TEST_RESTORE_DATABASE", "")

pytestmark = pytest.mark.skipif(
    backup.missing_programs() != [], reason="pg_dump or pg_restore not installed (apt-get install postgresql-client)"
)


@pytest.fixture
def pg_app(settings: Settings, tmp_path, request) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An app on PostgreSQL with a volunteer and a report stored (and nothing else)."""
    if settings.database_url.startswith("postgresql"):
        app = request.getfixturevalue("app")  # the run's database, emptied
        own = None
    else:
        own = f"ijwi_backup_{os.getpid()}"
        try:
            with psycopg.connect(backup.libpq_url(SERVER_URL), autocommit=True, connect_timeout=3) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{own}"')
        except psycopg.OperationalError:
            pytest.skip("PostgreSQL is not reachable")
        url = make_url(SERVER_URL).set(database=own).render_as_string(hide_password=False)
        migrate.upgrade(url)
        app = create_app(replace(settings, database_url=url))
        places = tmp_path / "places.json"
        village = {"name": "Ubumwe"}
        cell = {"name": "Katabaro", "villages": [village]}
        sector = {"name": "Kimisagara", "cells": [cell]}
        district = {"name": "Nyarugenge", "sectors": [sector]}
        places.write_text(json.dumps({"provinces": [{"name": "Kigali", "districts": [district]}]}))
        imports.import_locations(app.extensions["ijwi"], places)
    rt: Runtime = app.extensions["ijwi"]
    make_report(rt, by_volunteer=True)
    yield app
    if own:
        rt.db.engine.dispose()
        with psycopg.connect(backup.libpq_url(SERVER_URL), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')


def scratch(app) -> str:  # type: ignore[no-untyped-def]
    return RESTORE_DATABASE or f"{make_url(app.extensions['ijwi'].settings.database_url).database}_restore"


def test_a_backup_is_dumped_restored_into_a_fresh_database_and_its_counts_match(pg_app, tmp_path):
    dump = tmp_path / "nightly" / "ijwi.dump"
    result = pg_app.test_cli_runner().invoke(
        args=["backup", "check", "--dump", str(dump), "--restore-into", scratch(pg_app)]
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:-1]}
    assert (
        lines["reports"] == ["1", "1"] and lines["volunteers"] == ["1", "1"] and lines["alembic_version"] == ["1", "1"]
    )
    assert int(lines["locations"][0]) >= 5 and lines["locations"][0] == lines["locations"][1]
    assert "restored and checked" in result.output.splitlines()[-1]
    assert dump.stat().st_size > 1000
    # The scratch database is gone again.
    with psycopg.connect(backup.libpq_url(pg_app.extensions["ijwi"].settings.database_url)) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch(pg_app),)).fetchone()
    assert found is None


def test_the_restore_never_goes_into_the_database_backed_up(pg_app, tmp_path):
    own = make_url(pg_app.extensions["ijwi"].settings.database_url).database
    result = pg_app.test_cli_runner().invoke(
        args=["backup", "check", "--dump", str(tmp_path / "x"), "--restore-into", own]
    )
    assert result.exit_code == 1
    assert "must not be the database backed up" in result.output


def test_a_sqlite_database_gets_a_plain_refusal(runner, settings, tmp_path):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the run's database is PostgreSQL")
    result = runner.invoke(args=["backup", "check", "--dump", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "no backup checked: backups are made of PostgreSQL databases, not sqlite" in result.output
