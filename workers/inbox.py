"""The routing inbox: reports and visits the web has stored, moved onto RQ's routing queue.

The confirm hop hands its stored report over with one Redis command
(`gateway.referrals.reports.queue_routing`); the RQ job (an object, its pickled arguments, a
Lua script) is built here, in a worker, instead of while the caller waits for the reference.
A row whose hand-over is lost (Redis down at that moment, a worker killed between taking and
queueing it) is queued again by the sweeper after `jobs.SWEEP_AFTER`.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

from gateway import keys
from gateway.referrals.reports import INBOX_REPORT, INBOX_VISIT
from gateway.runtime import ROUTE_REPORT_JOB, ROUTE_VISIT_JOB, Runtime, job_id

log = logging.getLogger(__name__)

# Items taken from the inbox at once.
BATCH = 100
# Seconds a worker waits on an empty inbox before looking at its stop event again.
WAIT_SECONDS = 1
# The job of each kind of item.
JOBS = {INBOX_REPORT: ROUTE_REPORT_JOB, INBOX_VISIT: ROUTE_VISIT_JOB}


def move(rt: Runtime, wait: int = 0) -> int:
    """Queue the routing job of every item in the inbox now (first waiting up to `wait` seconds
    for one to come); how many were queued."""
    key = keys.routing_inbox()
    moved = 0
    if wait:
        first = cast(list[str] | None, rt.redis.blpop([key], timeout=wait))
        if first is None:
            return 0
        moved += _queue(rt, [first[1]])
    while items := _take(rt, key):
        moved += _queue(rt, items)
    return moved


def _take(rt: Runtime, key: str) -> list[str]:
    """Up to BATCH items off the inbox's head, at once (MULTI: any Redis version RQ runs on)."""
    pipe = rt.redis.pipeline(transaction=True)
    pipe.lrange(key, 0, BATCH - 1)
    pipe.ltrim(key, BATCH, -1)
    items, _ = pipe.execute()
    return cast(list[str], items)


def _queue(rt: Runtime, items: list[str]) -> int:
    """Queue the jobs of items taken from the inbox (how many); any left when queueing fails go
    back to the inbox."""
    queued = 0
    for n, item in enumerate(items):
        kind, _, row_id = item.partition(":")
        func = JOBS.get(kind)
        if func is None or not row_id.isdigit():
            log.warning("dropping an item of the routing inbox that names no report or visit")
            continue
        try:
            rt.enqueue(func, int(row_id), job_id=job_id(func, int(row_id)))
        except Exception:
            rt.redis.lpush(keys.routing_inbox(), *reversed(items[n:]))
            raise
        queued += 1
    return queued


def move_forever(rt: Runtime, stop: threading.Event) -> None:
    """A worker's thread: move what comes into the inbox onto the routing queue, until stop."""
    while not stop.is_set():
        try:
            move(rt, WAIT_SECONDS)
        except Exception:
            log.exception("could not move the routing inbox onto the queue; trying again")
            stop.wait(WAIT_SECONDS)
