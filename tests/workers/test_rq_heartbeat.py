"""The worker process's RQ worker: jobs run as with RQ's own, its RQ heartbeat written at most
once a second however many jobs it takes (RQ writes it three times around each job)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models import Message
from gateway.runtime import WORKER_QUEUES
from tests.helpers import make_report, register_officers
from workers import jobs
from workers.__main__ import Worker


def test_the_worker_routes_every_report_and_beats_at_most_once_for_a_burst_of_jobs(rt, monkeypatch):
    register_officers(rt)
    for report_id in [make_report(rt)[0] for _ in range(5)]:
        rt.enqueue(jobs.route_report, report_id, job_id=f"route-report-{report_id}")
    worker = Worker(list(WORKER_QUEUES), connection=rt.rq_redis)
    beats = []
    hset = worker.connection.hset

    def noted(key, field=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if key == worker.key and field == "last_heartbeat":
            beats.append(key)
        return hset(key, field, *args, **kwargs)

    monkeypatch.setattr(worker.connection, "hset", noted)
    worker.work(burst=True)
    with rt.db.reading() as session:
        assert session.scalars(select(Message.status)).all() == ["sent"] * 10
    # RQ would have written it 3 times a job (15); its birth wrote the first one.
    assert len(beats) <= 1


def test_a_heartbeat_rq_asks_with_a_timeout_is_always_written(rt):
    worker = Worker(list(WORKER_QUEUES), connection=rt.rq_redis)
    worker.heartbeat()
    first = rt.rq_redis.hget(worker.key, "last_heartbeat")
    worker.heartbeat()
    assert rt.rq_redis.hget(worker.key, "last_heartbeat") == first
    worker.heartbeat(timeout=90)
    assert rt.rq_redis.ttl(worker.key) <= 90
    worker._beaten_at -= 2  # a second and more later
    worker.heartbeat()
    assert rt.rq_redis.ttl(worker.key) > 90
