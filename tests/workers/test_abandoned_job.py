"""A worker killed in the middle of a routing job (a crash, an out-of-memory kill, a lost machine):
once the job's heartbeat has expired, the sweeper queues the routing again and the report is alerted.
And a job of the same id that finishes while it is queued again is no error."""

from __future__ import annotations

import time
from datetime import timedelta

from rq import SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from gateway import keys
from gateway.clock import utcnow
from gateway.models import Referral, Report
from tests.helpers import make_report, register_officers
from workers import jobs


def test_a_report_whose_routing_worker_died_is_routed_once_its_job_is_abandoned(rt, run_jobs):
    register_officers(rt)
    report_id, reference = make_report(rt)
    rt.enqueue(jobs.route_report, report_id, job_id=f"route-report-{report_id}")
    # A worker takes the job and dies before finishing it: the job stays "started".
    worker = SimpleWorker([rt.queue], connection=rt.rq_redis)
    worker.register_birth()
    rt.redis.zadd(keys.workers(), {worker.name: time.time()})  # its heartbeat, as a live worker writes it
    job_id = rt.queue.pop_job_id()
    assert job_id is not None
    job = Job.fetch(job_id, connection=rt.rq_redis)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    assert job.get_status(refresh=True) == JobStatus.STARTED

    # While its heartbeat lasts, the sweeper leaves the job to its worker.
    later = utcnow() + timedelta(minutes=2)
    jobs.sweep(now=later)
    run_jobs()
    with rt.db.reading() as session:
        assert session.scalar(select(Report.routed_at).where(Report.id == report_id)) is None

    # The heartbeat runs out (nobody renews it): the job is abandoned, the sweeper queues it again.
    rt.redis.zadd(keys.workers(), {worker.name: time.time() - rt.settings.worker_heartbeat_ttl - 1})
    jobs.sweep(now=later)
    run_jobs()
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        assert referral is not None
        assert session.scalar(select(Report.routed_at).where(Report.id == report_id)) is not None


def test_a_job_that_finishes_while_it_is_queued_again_is_queued_again_without_an_error(rt, monkeypatch):
    # Two workers starting in the same second queue the same periodic sweep; the first one's
    # finishes (and is deleted) between the second's "already exists" and its look at it.
    rt.enqueue(jobs.sweep, job_id="sweep-same-second")
    real_fetch = Job.fetch

    def vanished(job_id, connection=None, serializer=None):  # type: ignore[no-untyped-def]
        real_fetch(job_id, connection=connection).delete()
        raise NoSuchJobError(job_id)

    monkeypatch.setattr(Job, "fetch", vanished)
    rt.enqueue(jobs.sweep, job_id="sweep-same-second")
    monkeypatch.undo()
    assert rt.queue.job_ids == ["sweep-same-second"]


def test_a_job_queued_again_while_its_finished_run_is_still_kept_runs_again(rt, run_jobs):
    # A finished job is kept RESULT_TTL seconds; the sweeper may queue the same id meanwhile.
    rt.enqueue(jobs.sweep, job_id="sweep-kept")
    run_jobs()
    assert Job.fetch("sweep-kept", connection=rt.rq_redis).get_status() == "finished"
    rt.enqueue(jobs.sweep, job_id="sweep-kept")
    assert rt.queue.job_ids == ["sweep-kept"]
    run_jobs()
    assert rt.queue.job_ids == []
    assert Job.fetch("sweep-kept", connection=rt.rq_redis).get_status() == "finished"
