"""The SQL database: one engine per app, plain SQLAlchemy 2.0 sessions."""

from __future__ import annotations

import os
import sys
import threading
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Engine, LargeBinary, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from gateway import writer_gate

# Constraint names that Alembic can find again on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Seconds SQLite waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT = 15
# Seconds to wait for a PostgreSQL connection, and for a free connection of the pool.
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 5
# Seconds a pooled PostgreSQL connection may have been back in the pool and still be handed out
# without a ping first (a ping is a round trip: the confirm hop and the worker check a connection
# out many times a second, each just used).
PING_AFTER_IDLE = 5


def make_engine(url: str, statement_timeout_ms: int = 10000, lock_timeout_ms: int = 3000) -> Engine:
    """An engine for url. SQLite gets foreign keys, WAL, a busy timeout and a file only its
    owner may read; PostgreSQL gets statement and lock timeouts (a locked table must not hang
    every web thread). Parameters never reach a log or an error message (they hold phones)."""
    if url.startswith("sqlite"):
        sqlite_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT}
        path = _private_sqlite_file(url)
        if path is not None:
            sqlite_args["factory"] = writer_gate.connection_class(path + "-writer", SQLITE_BUSY_TIMEOUT)
        engine = create_engine(url, connect_args=sqlite_args, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        connect_args = {
            "connect_timeout": CONNECT_TIMEOUT,
            "options": f"-c statement_timeout={int(statement_timeout_ms)} -c lock_timeout={int(lock_timeout_ms)}",
        }
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT,
        connect_args=connect_args,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before handing it out only when it has been idle PING_AFTER_IDLE
    seconds or more (SQLAlchemy's pool_pre_ping pings at every checkout). One that fails the
    ping is replaced by a fresh one. A server that went away in the last seconds is found by
    the next statement instead: SQLAlchemy then drops every older pooled connection, and the
    confirm hop tries its one statement again (referrals.reports._store_once)."""

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")  # none yet: a connection made just now
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("the database closed this pooled connection") from exc
            raise


def _private_sqlite_file(url: str) -> str | None:
    """Make the database file (if it is a file) readable by its owner only, before SQLite opens
    it; its absolute path (None for a database in memory)."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


class Database:
    """An engine and its two kinds of session: one that commits, one that only reads."""

    def __init__(self, url: str, statement_timeout_ms: int = 10000, lock_timeout_ms: int = 3000) -> None:
        self.url = url
        self.engine = make_engine(url, statement_timeout_ms, lock_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Thread id -> that thread's autocommit connection and when it was last handed out.
        self._kept: dict[int, tuple[Connection, float]] = {}
        event.listen(self.engine, "engine_disposed", lambda _engine: self._forget_every_autocommit())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on an error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def reading(self) -> Session:
        """A session for reads (`with rt.db.reading() as session:`): it never commits."""
        return self._sessions()

    def autocommit(self) -> Connection:
        """This thread's connection in autocommit, for one statement that is durable when it
        returns (the confirm hop's insert). Under load it stays checked out between uses:
        taking one from the pool and setting its isolation level each time cost more CPU than
        the insert itself. One idle PING_AFTER_IDLE seconds or more goes back to the pool and
        the next use checks one out (pinged) as any pooled use does; one whose statement failed
        is given back by forget_autocommit(); Engine.dispose() gives back every thread's."""
        thread, now = threading.get_ident(), time.monotonic()
        kept = self._kept.get(thread)
        if kept is not None and (kept[0].invalidated or now - kept[1] >= PING_AFTER_IDLE):
            self.forget_autocommit()
            kept = None
        connection = kept[0] if kept else self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._kept[thread] = (connection, now)
        return connection

    def forget_autocommit(self) -> None:
        """Give this thread's autocommit connection back to the pool (the next use takes another)."""
        kept = self._kept.pop(threading.get_ident(), None)
        if kept is not None:
            kept[0].close()

    def _forget_every_autocommit(self) -> None:
        while self._kept:
            _thread, (connection, _used_at) = self._kept.popitem()
            connection.close()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Floats(TypeDecorator[list[float]]):
    """A list of floats kept bit for bit, as 8-byte little-endian doubles one after the other
    (read back far faster than a SQL array of numbers)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: list[float] | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        packed = array("d", value)
        if sys.byteorder == "big":
            packed.byteswap()
        return packed.tobytes()

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> list[float] | None:
        if value is None:
            return None
        packed = array("d")
        packed.frombytes(value)
        if sys.byteorder == "big":
            packed.byteswap()
        return packed.tolist()
