"""One writer at a time on a SQLite file, handed on as soon as it is free.

SQLite lets one connection write at a time. A connection that finds another writing sleeps in
SQLite's busy handler for 1, 2, 5, 10, 15, 20, 25... ms between looks, however soon the writer
is done, and while it sleeps the worker, which writes transaction after transaction, takes the
file again: a confirm hop waited up to 100 ms for a lock held for 5. Here every connection of
the gateway first takes an exclusive lock on a file beside the database (`<database>-writer`)
before the first write of a transaction and gives it back when the transaction ends; a
connection waiting for it looks every WRITER_POLL seconds. SQLite's own lock and busy timeout
stay as they are beneath it (the sqlite3 shell and other programs do not take this lock).

Reads never wait: WAL lets them go on beside the writer.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Self

# Seconds between two looks at the writer's lock while another connection holds it.
WRITER_POLL = 0.0002
# Statements that start a write (or a transaction that will write); anything else is a read.
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN", "VACUUM", "REINDEX")

# The connections each thread holds the lock through: a thread never waits for itself.
_held = threading.local()


def connection_class(lock_path: str, timeout: float) -> type[sqlite3.Connection]:
    """A sqlite3.Connection class whose connections take the writer's lock (an flock on
    lock_path) before a transaction's first write and give it back when it ends; a connection
    gives up waiting after timeout seconds, and SQLite's own busy timeout decides from there."""

    class GatedConnection(sqlite3.Connection):
        _lock_fd: int | None = None
        _holds = False

        def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
            return super().cursor(factory or GatedCursor)

        # sqlite3's own shortcuts make a plain cursor: these go through the lock too.
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            return self.cursor().execute(sql, parameters)

        def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
            return self.cursor().executemany(sql, seq_of_parameters)

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self.give_back()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self.give_back()

        def close(self) -> None:
            try:
                self.give_back()
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
            finally:
                super().close()

        def take_for(self, sql: str) -> None:
            if self._holds or not sql.lstrip()[:7].upper().startswith(WRITES):
                return
            if getattr(_held, "count", 0):
                return  # this thread writes through another connection already: SQLite decides
            if self._lock_fd is None:
                self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return
                    time.sleep(WRITER_POLL)
            self._holds = True
            _held.count = getattr(_held, "count", 0) + 1

        def give_back(self) -> None:
            if not self._holds:
                return
            self._holds = False
            _held.count -= 1
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

        def after_statement(self) -> None:
            """A write outside a transaction (DDL, autocommit) is over once it has run."""
            if self._holds and not self.in_transaction:
                self.give_back()

    class GatedCursor(sqlite3.Cursor):
        def execute(self, sql: str, parameters: Any = (), /) -> Self:
            return self._gated(super().execute, sql, parameters)

        def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
            return self._gated(super().executemany, sql, seq_of_parameters)

        def _gated(self, run: Callable[[str, Any], Self], sql: str, arguments: Any) -> Self:
            connection: GatedConnection = self.connection  # type: ignore[assignment]
            connection.take_for(sql)
            try:
                return run(sql, arguments)
            finally:
                connection.after_statement()

    return GatedConnection
