"""A worker killed with kill -9 in the middle of a job: another worker routes the report
within seconds (real worker processes, the test's real Redis and database)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import text, update

from gateway.clock import utcnow
from gateway.models import Report
from gateway.runtime import Runtime
from tests.helpers import make_report, start_worker, until
from workers import jobs


@pytest.fixture
def two_workers(rt: Runtime, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    workers = [
        start_worker(
            rt.settings,
            tmp_path / f"worker{n}.log",
            SCHEDULER_INTERVAL="1",
            WORKER_HEARTBEAT_TTL="3",
            DB_LOCK_TIMEOUT_MS="60000",
            LOG_LEVEL="WARNING",
        )
        for n in range(2)
    ]
    yield workers
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=20)


def _routed(rt: Runtime, report_id: int) -> bool:
    with rt.db.reading() as session:
        return session.get_one(Report, report_id).routed_at is not None


def test_a_report_whose_worker_was_killed_mid_job_is_routed_by_another_within_seconds(rt, two_workers):
    assert until(lambda: rt.live_workers() == 2, 30), "the workers did not start"
    report_id, _ = make_report(rt)
    with rt.db.transaction() as session:  # stored a while ago: the sweeper looks for it
        session.execute(update(Report).values(created_at=utcnow() - timedelta(minutes=5)))
    # Hold the database's write lock: the routing job stops in the middle, as a slow database would.
    blocker, pg = _hold_write_lock(rt)
    try:
        rt.enqueue(jobs.route_report, report_id, job_id=f"route-report-{report_id}")
        job = Job.fetch(f"route-report-{report_id}", connection=rt.rq_redis)
        assert until(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 30)
        job.refresh()
        pid = int(str(job.worker_name).rsplit(".", 1)[1])
        assert pid in [w.pid for w in two_workers]
        # RQ's scheduler runs in a thread of the worker: killing it leaves no process behind.
        assert not Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        os.kill(pid, signal.SIGKILL)
    finally:
        blocker.rollback() if not pg else blocker.close()
    killed_at = time.monotonic()
    assert until(lambda: _routed(rt, report_id), 30), "the report waits for the dead worker"
    assert time.monotonic() - killed_at < 30


def _hold_write_lock(rt: Runtime):  # type: ignore[no-untyped-def]
    url = rt.settings.database_url
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        return connection, False
    connection = rt.db.engine.connect()
    connection.execute(text("LOCK TABLE referrals IN EXCLUSIVE MODE"))
    return connection, True


def test_readiness_of_the_work_says_when_no_worker_is_alive_or_a_report_waits(app, rt):
    client = app.test_client()
    response = client.get("/readyz/work")
    assert response.status_code == 503 and "no worker is alive" in response.get_json()["problems"]
    rt.worker_beat("test-worker")
    assert client.get("/readyz/work").status_code == 200
    report_id, _ = make_report(rt)
    with rt.db.transaction() as session:
        session.execute(update(Report).values(created_at=utcnow() - timedelta(seconds=301)))
    waiting = client.get("/readyz/work").get_json()
    assert waiting["status"] == "not ready" and waiting["oldest_unrouted_seconds"] >= 300
    rt.redis.set("ijwi:sms:no-credit", "1")
    assert "the SMS account is out of credit" in client.get("/readyz/work").get_json()["problems"]


def test_the_supervisor_starts_a_killed_worker_again(rt, tmp_path):
    supervisor = start_worker(
        rt.settings,
        tmp_path / "supervisor.log",
        IJWI_SUPERVISE_WORKER="1",
        WORKER_HEARTBEAT_TTL="3",
        LOG_LEVEL="WARNING",
    )
    try:
        assert until(lambda: rt.live_workers() == 1, 30)
        (name,) = rt.redis.zrange("ijwi:workers", 0, -1)
        os.kill(int(name.rsplit(".", 1)[1]), signal.SIGKILL)
        assert until(lambda: len(rt.redis.zrange("ijwi:workers", 0, -1)) == 2 and rt.live_workers() >= 1, 30)
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=20)
