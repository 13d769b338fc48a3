"""Fixtures: app -> client -> runner, over real Redis and PostgreSQL when
TEST_DATABASE_URL / TEST_REDIS_URL (or DATABASE_URL / REDIS_URL) name them, else over
SQLite and an embedded Redis. Each test starts with empty tables (places stay loaded)
and an empty Redis database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rq import SimpleWorker
from sqlalchemy import create_engine, text

from gateway import migrate, runtime
from gateway.app import create_app
from gateway.config import Settings
from gateway.db import Base
from gateway.redis_conn import embedded_url
from gateway.registry import imports
from gateway.registry.places import PlaceIndex
from gateway.runtime import WORKER_QUEUES, Runtime
from workers import inbox

# Tables whose rows survive from test to test (loaded once per run).
KEPT_TABLES = {"locations", "alembic_version"}
ENCRYPTION_KEY = Fernet.generate_key().decode()


def _database_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")


def _redis_url(tmp: Path) -> str:
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or embedded_url(str(tmp / "redis.db"))


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of the whole run, with a database migrated and loaded with places."""
    tmp = tmp_path_factory.mktemp("ijwi")
    url = _database_url() or f"sqlite:///{tmp / 'template.db'}"
    settings = Settings(
        database_url=url,
        redis_url=_redis_url(tmp),
        secret_key="test-secret",
        encryption_key=ENCRYPTION_KEY,
        sms_backend="console",
        at_username="sandbox",
        at_api_key="test-api-key",
        at_sender_id="IJWI",
        # The tests post to the webhooks without a token (a test of the token sets one).
        dev_mode=True,
    )
    if url.startswith("postgresql"):
        rt = Runtime(settings)
        with rt.db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        rt.db.engine.dispose()
    migrate.upgrade(url)
    rt = Runtime(settings)
    imports.import_locations(rt)
    rt.db.engine.dispose()  # SQLite: the template file is complete (WAL checkpointed) before copies
    yield settings


@pytest.fixture(scope="session")
def shared_places(base_settings: Settings) -> PlaceIndex:
    """The places in memory, loaded once for the run (every test's database has the same)."""
    rt = Runtime(base_settings)
    rt.places.children(None)
    return rt.places


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """The run's settings, with a fresh SQLite copy per test (PostgreSQL is emptied instead)."""
    if base_settings.database_url.startswith("sqlite"):
        template = Path(base_settings.database_url.removeprefix("sqlite:///"))
        copy = tmp_path / "test.db"
        shutil.copy(template, copy)
        return replace(base_settings, database_url=f"sqlite:///{copy}")
    return base_settings


@pytest.fixture
def app(settings: Settings, shared_places: PlaceIndex):  # type: ignore[no-untyped-def]
    previous = runtime.install(None)
    if not settings.database_url.startswith("sqlite"):
        # The key's canary of an earlier test (another key, e.g. a bench's) must not refuse this app.
        engine = create_engine(settings.database_url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM key_canaries"))
        engine.dispose()
    app = create_app(settings)
    rt: Runtime = app.extensions["ijwi"]
    rt.__dict__["places"] = shared_places  # instead of loading 17,000 places again
    rt.redis.flushdb()
    if not settings.database_url.startswith("sqlite"):
        tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]
        with rt.db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    yield app
    rt.db.engine.dispose()
    runtime.install(previous)


@pytest.fixture
def app_with(settings: Settings):  # type: ignore[no-untyped-def]
    """Make apps whose settings differ from the test's: app_with(webhook_token="x")."""
    made = []
    previous = runtime.install(None)

    def make(**changes):  # type: ignore[no-untyped-def]
        app = create_app(replace(settings, **changes))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["ijwi"].db.engine.dispose()
    runtime.install(previous)


@pytest.fixture
def rt(app) -> Runtime:  # type: ignore[no-untyped-def]
    return app.extensions["ijwi"]


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def run_jobs(rt: Runtime):  # type: ignore[no-untyped-def]
    """Run every queued job with the real RQ worker code, until the queue is empty (what the web
    handed over for routing first moved onto the queue, as a worker's inbox thread does)."""

    def run() -> None:
        inbox.move(rt)
        SimpleWorker(list(WORKER_QUEUES), connection=rt.rq_redis).work(burst=True)

    return run
