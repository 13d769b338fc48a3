"""SQLite's writers take turns through the writer's lock: the next one goes on as soon as the
last one's transaction ends, reads never wait, and nothing hangs."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import threading
import time

import pytest
from sqlalchemy import text

from gateway import writer_gate
from gateway.db import make_engine


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ijwi.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (n INTEGER)"))
    yield engine
    engine.dispose()


def test_a_writer_waits_for_the_transaction_that_writes_and_goes_on_when_it_ends(engine, tmp_path):
    lock = str(tmp_path / "ijwi.db-writer")
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    order: list[str] = []
    first = engine.connect()
    first.execute(text("INSERT INTO notes VALUES (1)"))
    assert not _lock_is_free(lock)

    def second_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO notes VALUES (2)"))
        order.append("second committed")

    waiting = threading.Thread(target=second_writer)
    waiting.start()
    time.sleep(0.3)
    assert order == []
    # Reads go on beside the writer (WAL): they see what was committed.
    with engine.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM notes")).scalar() == 0
    order.append("first committed")
    first.commit()
    first.close()
    waiting.join(5)
    assert order == ["first committed", "second committed"]
    assert _lock_is_free(lock)
    with engine.connect() as reader:
        assert reader.execute(text("SELECT n FROM notes ORDER BY n")).scalars().all() == [1, 2]


def test_a_rolled_back_or_failed_write_gives_the_lock_back(engine, tmp_path):
    lock = str(tmp_path / "ijwi.db-writer")
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO notes VALUES (1)"))
        connection.rollback()
        assert _lock_is_free(lock)
    with pytest.raises(Exception, match="no such table"), engine.begin() as connection:
        connection.execute(text("INSERT INTO missing VALUES (1)"))
    assert _lock_is_free(lock)
    # A statement outside a transaction (here, DDL) is over once it has run.
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE more (n INTEGER)"))
        assert _lock_is_free(lock)


def test_a_thread_writing_through_two_connections_gets_sqlites_answer_not_a_hang(tmp_path):
    path = str(tmp_path / "two.db")
    gated = writer_gate.connection_class(path + "-writer", timeout=0.2)
    first = sqlite3.connect(path, timeout=0.1, factory=gated)
    second = sqlite3.connect(path, timeout=0.1, factory=gated)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE notes (n INTEGER)")
    first.execute("INSERT INTO notes VALUES (1)")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("INSERT INTO notes VALUES (2)")
    assert time.monotonic() - started < 2
    first.commit()
    second.rollback()
    second.execute("INSERT INTO notes VALUES (2)")
    second.commit()
    assert [n for (n,) in first.execute("SELECT n FROM notes ORDER BY n")] == [1, 2]
    first.close()
    second.close()


def test_a_writer_of_another_thread_gives_up_after_the_timeout(tmp_path):
    path = str(tmp_path / "slow.db")
    gated = writer_gate.connection_class(path + "-writer", timeout=0.2)
    holder = sqlite3.connect(path, timeout=0.1, factory=gated, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE notes (n INTEGER)")
    holder.execute("INSERT INTO notes VALUES (1)")
    failures: list[str] = []

    def late_writer() -> None:
        late = sqlite3.connect(path, timeout=0.1, factory=gated)
        try:
            late.execute("INSERT INTO notes VALUES (2)")
        except sqlite3.OperationalError as exc:
            failures.append(str(exc))
        finally:
            late.close()

    thread = threading.Thread(target=late_writer)
    started = time.monotonic()
    thread.start()
    thread.join(5)
    assert failures == ["database is locked"]
    assert 0.2 <= time.monotonic() - started < 2
    holder.commit()
    holder.close()
