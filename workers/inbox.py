"""The routing inbox: reports and visits the web has stored, routed by a worker.

The confirm hop hands its stored report over with one Redis command
(`gateway.referrals.reports.queue_routing`). A worker's inbox thread takes the items a few at a
time and routes each at once, as the routing job would, without making an RQ job of it (the
job's object, pickled arguments, registries and status writes cost about a third of the
worker's CPU per report); an item whose routing fails becomes that RQ job, retried as any
job is. A row whose hand-over is lost (Redis down at that moment, a worker killed between
taking and routing it) is queued again by the sweeper after `jobs.SWEEP_AFTER`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import cast

from gateway import keys
from gateway.referrals.reports import INBOX_REPORT, INBOX_VISIT, inbox_item
from gateway.runtime import ROUTE_REPORT_JOB, ROUTE_VISIT_JOB, Runtime, job_id
from workers import jobs

log = logging.getLogger(__name__)

# Items taken from the inbox at once to be queued as jobs.
BATCH = 100
# Items a worker takes at once to route itself (a killed worker leaves these few to the sweeper).
ROUTE_BATCH = 10
# Seconds a worker waits on an empty inbox before looking at its stop event again.
WAIT_SECONDS = 1
# The job of each kind of item, and what it runs.
JOBS = {INBOX_REPORT: ROUTE_REPORT_JOB, INBOX_VISIT: ROUTE_VISIT_JOB}
ROUTERS = {INBOX_REPORT: jobs.route_report, INBOX_VISIT: jobs.route_visit}


def move(rt: Runtime, wait: int = 0) -> int:
    """Queue the routing job of every item in the inbox now (first waiting up to `wait` seconds
    for one to come); how many were queued."""
    return _each_batch(rt, wait, BATCH, _queue)


def route(rt: Runtime, wait: int = 0, stop: threading.Event | None = None) -> int:
    """Route every item in the inbox now, in this thread (first waiting up to `wait` seconds
    for one to come), until it is empty or stop is set; how many were taken. An item whose
    routing fails is queued as its job."""
    return _each_batch(rt, wait, ROUTE_BATCH, _route, stop)


def _each_batch(
    rt: Runtime,
    wait: int,
    count: int,
    handle: Callable[[Runtime, list[str]], int],
    stop: threading.Event | None = None,
) -> int:
    key = keys.routing_inbox()
    done = 0
    if wait:
        first = cast(list[str] | None, rt.redis.blpop([key], timeout=wait))
        if first is None:
            return 0
        done += handle(rt, [first[1]])
    while not (stop is not None and stop.is_set()) and (items := _take(rt, key, count)):
        done += handle(rt, items)
    return done


def _route(rt: Runtime, items: list[str]) -> int:
    for n, item in enumerate(items):
        named = inbox_item(item)
        try:
            if named is None:
                _queue(rt, [item])  # it logs and drops an item naming nothing
            else:
                ROUTERS[named[0]](named[1])
        except Exception:
            log.exception("routing %s failed; queued as a job to be tried again", item)
            _queue(rt, [item])
        except BaseException:
            rt.redis.lpush(keys.routing_inbox(), *reversed(items[n:]))  # stopping: not lost
            raise
    return len(items)


def _take(rt: Runtime, key: str, count: int = BATCH) -> list[str]:
    """Up to count items off the inbox's head, at once (MULTI: any Redis version RQ runs on)."""
    pipe = rt.redis.pipeline(transaction=True)
    pipe.lrange(key, 0, count - 1)
    pipe.ltrim(key, count, -1)
    items, _ = pipe.execute()
    return cast(list[str], items)


def _queue(rt: Runtime, items: list[str]) -> int:
    """Queue the jobs of items taken from the inbox (how many); any left when queueing fails go
    back to the inbox."""
    queued = 0
    for n, item in enumerate(items):
        named = inbox_item(item)
        if named is None:
            log.warning("dropping an item of the routing inbox that names no report or visit")
            continue
        func, row_id = JOBS[named[0]], named[1]
        try:
            rt.enqueue(func, row_id, job_id=job_id(func, row_id))
        except Exception:
            rt.redis.lpush(keys.routing_inbox(), *reversed(items[n:]))
            raise
        queued += 1
    return queued


def route_forever(rt: Runtime, stop: threading.Event) -> None:
    """A worker's thread: route what comes into the inbox, until stop (the items it has taken
    are routed first)."""
    while not stop.is_set():
        try:
            route(rt, WAIT_SECONDS, stop)
        except Exception:
            log.exception("could not take from the routing inbox; trying again")
            stop.wait(WAIT_SECONDS)
