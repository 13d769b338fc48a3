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

log = logging.getLogger(__name__)

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


_local = threading.local()
_installed: BackgroundSender | None = None


def install(sender: BackgroundSender | None) -> BackgroundSender | None:
    """Make sender this process's (None: jobs send their messages themselves); the previous one."""
    global _installed
    previous, _installed = _installed, sender
    return previous


def current() -> BackgroundSender | None:
    """The process's sender, unless called on one of its own threads (a follow-up message, such as
    a failover's, is sent by the thread that learnt it is needed: the pool never waits on itself)."""
    if getattr(_local, "in_sender", False):
        return None
    return _installed
