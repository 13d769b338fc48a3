"""Everything a process needs, built once from Settings: database, Redis, queue, caches.

The web app and the workers share this; nothing here connects at import time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from gateway import keys
from gateway.config import Settings, load_settings, webhook_networks
from gateway.crypto import Crypto
from gateway.db import Database
from gateway.redis_conn import connect, connect_sentinel, embedded_url
from gateway.registry.places import PlaceIndex
from gateway.sms.provider import SmsProvider, provider
from gateway.ussd.catalog import MenuCatalog

# Where an app keeps its runtime (app.extensions[EXTENSION]).
EXTENSION = "ijwi"
# The RQ queue of routing, escalation and the sweeps (the first a worker takes from).
QUEUE_NAME = "ijwi"
ROUTING_QUEUE = QUEUE_NAME
# The RQ queue of SMS send jobs: a provider that times out never holds up routing.
SENDING_QUEUE = "ijwi-sms"
# The queues a worker listens to, in the order it takes jobs from them.
WORKER_QUEUES = (ROUTING_QUEUE, SENDING_QUEUE)
log = logging.getLogger(__name__)

# Where the embedded Redis keeps its file when REDIS_URL is not set.
EMBEDDED_REDIS_FILE = "instance/redis.db"
# Seconds RQ keeps a finished job. Nobody reads job results, but RQ deletes a job kept 0
# seconds at once, in seven more round trips to Redis than one it lets expire; a job of the same
# id queued meanwhile (rare: the sweeper waits longer) replaces the finished one (enqueue()).
RESULT_TTL = 10
# Job states in which a job of the same id must not be enqueued again.
_IN_FLIGHT = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}

# --- RQ jobs: every name and id, in one place ------------------------------------------------
# Named by string, so that gateway never imports workers (workers.jobs defines them).
ROUTE_REPORT_JOB = "workers.jobs.route_report"  # open a stored report's referral and alert it
ROUTE_VISIT_JOB = "workers.jobs.route_visit"  # open a home visit's follow-up referral and alert it
SEND_SMS_JOB = "workers.jobs.send_sms"  # send one message of the outbox
# How a job's id starts; the rest is what it works on, so enqueueing the same work twice is
# harmless. Any other job (the periodic ones) starts with its function's name.
_JOB_ID_PREFIXES = {ROUTE_REPORT_JOB: "route-report", ROUTE_VISIT_JOB: "route-visit", SEND_SMS_JOB: "sms"}


def job_id(job: str, key: int | str) -> str:
    """The id of job (a name above, or a function's name) working on key (a row id, a tick's time)."""
    return f"{_JOB_ID_PREFIXES.get(job, job.rsplit('.', 1)[-1])}-{key}"


@dataclass
class Runtime:
    settings: Settings
    db: Database = field(init=False)
    redis: Redis = field(init=False)
    rq_redis: Redis = field(init=False)

    def __post_init__(self) -> None:
        self.db = Database(
            self.settings.database_url, self.settings.db_statement_timeout_ms, self.settings.db_lock_timeout_ms
        )
        if self.settings.redis_sentinels:
            self.redis, self.rq_redis = connect_sentinel(self.settings)
        else:
            self.redis, self.rq_redis = connect(self.settings.redis_url or embedded_url(EMBEDDED_REDIS_FILE))

    @cached_property
    def crypto(self) -> Crypto:
        return Crypto(self.settings.encryption_key, self.settings.secret_key)

    @cached_property
    def places(self) -> PlaceIndex:
        return PlaceIndex(self.db, self.redis)

    @cached_property
    def menus(self) -> MenuCatalog:
        return MenuCatalog(self.db)

    @cached_property
    def sms(self) -> SmsProvider:
        """The SMS provider SMS_BACKEND names (Africa's Talking or the console outbox)."""
        return provider(self.settings)

    @cached_property
    def queue(self) -> Queue:
        return Queue(ROUTING_QUEUE, connection=self.rq_redis)

    @cached_property
    def sending_queue(self) -> Queue:
        return Queue(SENDING_QUEUE, connection=self.rq_redis)

    @cached_property
    def webhook_networks(self) -> list[IPv4Network | IPv6Network]:
        return webhook_networks(self.settings)

    # --- workers' heartbeats -----------------------------------------------------------

    def worker_beat(self, name: str) -> None:
        """A worker says it is alive (every third of WORKER_HEARTBEAT_TTL); workers silent for a
        day are forgotten."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(keys.workers(), {name: now})
        pipe.zremrangebyscore(keys.workers(), "-inf", now - keys.DEAD_WORKERS_KEPT)
        pipe.execute()

    def worker_gone(self, name: str) -> None:
        self.redis.zrem(keys.workers(), name)

    def live_workers(self) -> int:
        """How many workers beat within WORKER_HEARTBEAT_TTL."""
        return int(self.redis.zcount(keys.workers(), time.time() - self.settings.worker_heartbeat_ttl, "+inf"))

    def worker_alive(self, name: str | None) -> bool:
        beat = self.redis.zscore(keys.workers(), name) if name else None
        return beat is not None and beat > time.time() - self.settings.worker_heartbeat_ttl

    def enqueue(
        self,
        func: Callable[..., Any] | str,
        *args: Any,
        job_id: str,
        retry: Retry | None = None,
        delay: int = 0,
        queue: str = ROUTING_QUEUE,
    ) -> None:
        """Put a job on a queue once (after delay seconds: RQ's scheduler holds it till then);
        a job id queued, scheduled or running is left alone.

        Jobs are idempotent against the database, so a finished or failed job of the
        same id is replaced (that is how stalled work is picked up again), and so is one
        "started" by a worker that stopped beating (killed): it will never finish.
        """
        target = self.sending_queue if queue == SENDING_QUEUE else self.queue
        try:
            self._enqueue(target, func, args, job_id, retry, delay)
        except DuplicateJobError:
            try:
                old = Job.fetch(job_id, connection=self.rq_redis)
            except NoSuchJobError:
                # It finished (and was deleted) between the two looks: queue it again.
                self._enqueue(target, func, args, job_id, retry, delay)
                return
            status = old.get_status(refresh=True)
            if status in _IN_FLIGHT and not (status == JobStatus.STARTED and not self.worker_alive(old.worker_name)):
                return
            if status == JobStatus.STARTED:
                log.warning("job %s was started by a worker that is gone; queued again", job_id)
                Queue(old.origin, connection=self.rq_redis).started_job_registry.remove_executions(old)
            old.delete()
            self._enqueue(target, func, args, job_id, retry, delay)

    def _enqueue(
        self,
        target: Queue,
        func: Callable[..., Any] | str,
        args: tuple[Any, ...],
        job_id: str,
        retry: Retry | None,
        delay: int,
    ) -> None:
        options: dict[str, Any] = {
            "args": args,
            "job_id": job_id,
            "retry": retry,
            "unique": True,
            "result_ttl": RESULT_TTL,
        }
        # RQ takes a function or its dotted name (gateway names workers' jobs by name).
        job: Any = func
        if delay:
            target.enqueue_in(timedelta(seconds=delay), job, **options)
        else:
            target.enqueue_call(job, **options)


_current: Runtime | None = None


def current() -> Runtime:
    """The runtime: the app's inside a request or CLI command (a test may hold several apps),
    else this process's (a worker), built from the environment on first use.

    The one way every module reaches the database, Redis and the caches."""
    global _current
    if has_app_context():
        app_runtime: Runtime | None = current_app.extensions.get(EXTENSION)
        if app_runtime is None:
            # An app the command line made without settings: a command needs them now
            # (ConfigError names what to fix).
            app_runtime = attach(current_app, Runtime(load_settings()))
        return app_runtime
    if _current is None:
        _current = Runtime(load_settings())
    return _current


def attach(app: Flask, runtime: Runtime) -> Runtime:
    """Make runtime app's, and this process's (jobs run in it, a test's worker or the CLI's,
    see the same one)."""
    app.extensions[EXTENSION] = runtime
    install(runtime)
    return runtime


def install(runtime: Runtime | None) -> Runtime | None:
    """Make runtime this process's own (the app factory, a test); returns the previous one."""
    global _current
    previous, _current = _current, runtime
    return previous
