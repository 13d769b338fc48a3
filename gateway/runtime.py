"""Everything a process needs, built once from Settings: database, Redis, queue, caches.

The web app and the workers share this; nothing here connects at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from gateway.config import Settings, load_settings
from gateway.crypto import Crypto
from gateway.db import Database
from gateway.redis_conn import connect, connect_sentinel, embedded_url
from gateway.registry.places import PlaceIndex
from gateway.sms.provider import SmsProvider, provider
from gateway.ussd.catalog import MenuCatalog

# Where an app keeps its runtime (app.extensions[EXTENSION]).
EXTENSION = "ijwi"
# The RQ queue every job goes on.
QUEUE_NAME = "ijwi"
# Where the embedded Redis keeps its file when REDIS_URL is not set.
EMBEDDED_REDIS_FILE = "instance/redis.db"
# Seconds RQ keeps a finished job: none, as nobody reads job results (a later job of the
# same id then needs no clean-up of the old one).
RESULT_TTL = 0
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
        self.db = Database(self.settings.database_url)
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
        return Queue(QUEUE_NAME, connection=self.rq_redis)

    def enqueue(
        self,
        func: Callable[..., Any] | str,
        *args: Any,
        job_id: str,
        retry: Retry | None = None,
        delay: int = 0,
    ) -> None:
        """Put a job on the queue once (after delay seconds: RQ's scheduler holds it till then);
        a job id queued, scheduled or running is left alone.

        Jobs are idempotent against the database, so a finished or failed job of the
        same id is replaced (that is how stalled work is picked up again).
        """
        try:
            self._enqueue(func, args, job_id, retry, delay)
        except DuplicateJobError:
            old: Job | None = None
            try:
                found = Job.fetch(job_id, connection=self.rq_redis)
                status = found.get_status(refresh=True)
                if status == JobStatus.STARTED:
                    # The job of a worker that died stays "started" until RQ's registry cleanup, every
                    # 10 minutes: clean up now, so that a job whose heartbeat has expired (about 90 s
                    # after its worker's last) counts as abandoned and is queued again.
                    self.queue.started_job_registry.cleanup()
                    status = found.get_status(refresh=True)
                old = found
            except (NoSuchJobError, InvalidJobOperation):
                # It finished (and, with RESULT_TTL 0, was deleted) since: queue it again.
                status = None
            if status in _IN_FLIGHT:
                return
            if old is not None:
                old.delete()
            with contextlib.suppress(DuplicateJobError):  # queued meanwhile by another process
                self._enqueue(func, args, job_id, retry, delay)

    def _enqueue(
        self, func: Callable[..., Any] | str, args: tuple[Any, ...], job_id: str, retry: Retry | None, delay: int
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
            self.queue.enqueue_in(timedelta(seconds=delay), job, **options)
        else:
            self.queue.enqueue_call(job, **options)


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
