"""Sending SMS on a pool of threads, so that one worker process keeps many requests in flight.

Africa's Talking is across the internet: each request waits a round trip (about 300 ms) while
the worker's CPU idles. With a sender installed (`python -m workers` installs one of
SMS_SEND_THREADS threads), a job hands the messages it has just committed to the pool and goes
on with the next job; every outbox rule holds as before, since each thread runs the same
claim-send-record code as a job does (workers.jobs.send_now). Without one (tests, the CLI),
a job sends its messages itself, one after the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")

# Sends waiting for a thread, per thread, before a job handing over more waits for room
# (a job never queues more in memory than the pool can send in a few round trips).
BACKLOG_PER_THREAD = 2


class BackgroundSender:
    """A bounded pool of sender threads; submit() blocks while the pool is full."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sms-sender")
        self._room = threading.BoundedSemaphore(threads * (1 + BACKLOG_PER_THREAD))
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, send: Callable[[], None]) -> None:
        """Run send() on a pool thread (after waiting for room); its exceptions are logged: a
        message whose sending broke stays queued or sending, and the sweeper queues it again."""
        self._room.acquire()
        with self._idle:
            self._pending += 1
        try:
            self._pool.submit(self._run, send)
        except BaseException:
            self._done()
            raise

    def _run(self, send: Callable[[], None]) -> None:
        _local.in_sender = True
        try:
            send()
        except BaseException:
            log.exception("a send on the sender pool broke; the sweeper will queue the message again")
        finally:
            self._done()

    def _done(self) -> None:
        self._room.release()
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every send handed over is done; False if timeout came first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        """Finish every send handed over, then stop the threads."""
        self._pool.shutdown(wait=True)


class GroupWriter(Generic[Item]):
    """A group commit for the sender threads: a thread that adds an item while no other is writing
    writes it, with every item added meanwhile, and again until none is left; a thread that adds
    one while another writes goes on at once. The records of sends that end together go in one
    transaction (one commit, and on SQLite one turn at the file's writer), not one each."""

    def __init__(self, write: Callable[[list[Item]], None]) -> None:
        self._write = write  # must not raise: it handles its own failures
        self._lock = threading.Lock()
        self._pending: list[Item] = []
        self._writing = False

    def add(self, item: Item) -> None:
        with self._lock:
            self._pending.append(item)
            if self._writing:
                return
            self._writing = True
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        self._writing = False
                        return
                self._write(batch)
        except BaseException:
            with self._lock:
                self._writing = False
            raise


_local = threading.local()
_installed: BackgroundSender | None = None


def install(sender: BackgroundSender | None) -> BackgroundSender | None:
    """Make sender this process's (None: jobs send their messages themselves); the previous one."""
    global _installed
    previous, _installed = _installed, sender
    return previous


def on_sender_thread() -> bool:
    """True on a thread of a sender pool."""
    return bool(getattr(_local, "in_sender", False))


def current() -> BackgroundSender | None:
    """The process's sender, unless called on one of its own threads (a follow-up message, such as
    a failover's, is sent by the thread that learnt it is needed: the pool never waits on itself)."""
    if on_sender_thread():
        return None
    return _installed
