"""An idle gateway's worker log fits on a screen: the periodic sweeps and RQ's lines about
them are at DEBUG; what a sweep did is at INFO."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rq import SimpleWorker

from gateway import log_levels
from gateway.clock import utcnow
from gateway.runtime import QUEUE_NAME
from tests.helpers import VOLUNTEER_PHONE, Dial, register_volunteer
from workers import jobs, periodic

ROOT = Path(__file__).resolve().parents[2]
# What a worker says once as it starts and stops (at INFO, and rightly so).
START_AND_STOP = re.compile(
    r"started with PID|subscribing to channel|Listening on|Acquired scheduler lock|Scheduler for .* started"
    r"|warm shut down requested|Scheduler stopping|Scheduler with PID .* has stopped|unsubscribing from channel"
    r"|done, quitting|stopping on request"
)


@pytest.fixture
def quiet_worker() -> Iterator[None]:
    """RQ's worker logger as `python -m workers` sets it up, put back as it was after."""
    logger = logging.getLogger("rq.worker")
    filters, level = list(logger.filters), logger.level
    log_levels.quiet_rq_worker(periodic.routine_lines())
    yield
    logger.filters[:] = filters
    logger.setLevel(level)


def _work(rt, level: str) -> None:  # type: ignore[no-untyped-def]
    SimpleWorker([QUEUE_NAME], connection=rt.rq_redis).work(burst=True, logging_level=level)


def test_idle_sweeps_through_the_real_worker_log_nothing_at_info(rt, quiet_worker, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        periodic.queue_sweeps(rt)
        _work(rt, "INFO")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert [line for line in said if not START_AND_STOP.search(line)] == []


def test_the_periodic_jobs_lines_are_still_there_at_debug(rt, quiet_worker, caplog):
    caplog.set_level(logging.DEBUG)
    periodic.queue_sweeps(rt)
    _work(rt, "DEBUG")
    routine = [r for r in caplog.records if r.name == "rq.worker" and "workers.jobs.sweep()" in r.getMessage()]
    assert len(routine) == 2  # "ijwi: workers.jobs.sweep() (sweep-...)" and "Successfully completed ..."
    assert {r.levelname for r in routine} == {"DEBUG"}


def test_other_jobs_keep_their_info_lines(client, rt, quiet_worker, caplog, run_jobs):
    caplog.set_level(logging.INFO)
    register_volunteer(rt)
    Dial(client, VOLUNTEER_PHONE).send("1", "2", "2", "1", "1", "1", "1", "1")
    run_jobs()
    assert any("workers.jobs.route_report(" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_a_sweep_that_queued_a_lost_report_says_so_at_info(client, rt, quiet_worker, caplog, run_jobs):
    register_volunteer(rt)
    Dial(client, VOLUNTEER_PHONE).send("1", "2", "2", "1", "1", "1", "1", "1")
    rt.redis.flushdb()  # the routing job is lost
    caplog.set_level(logging.INFO)
    caplog.clear()  # the session's own line (its END hop) is not the sweep's
    jobs.sweep(now=utcnow() + timedelta(minutes=2))
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert said == ["sweep: queued again 1 report(s), 0 visit(s), 0 message(s)"]


def test_a_real_worker_idle_for_several_sweep_intervals_logs_nothing_at_info(settings, app, tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        SECRET_KEY=settings.secret_key,
        ENCRYPTION_KEY=settings.encryption_key,
        SCHEDULER_INTERVAL="1",
        # DEBUG shows that the sweeps ran, and at which level each line came (read as text lines).
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="text",
    )
    log_file = tmp_path / "worker.log"
    with log_file.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while len(_sweeps(log_file.read_text())) < 4 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    log = log_file.read_text()
    assert len(_sweeps(log)) >= 4, log[-3000:]
    lines = log.splitlines()
    info = [line for line in lines if re.search(r" (INFO|WARNING|ERROR) ", line) and not START_AND_STOP.search(line)]
    assert info == []


def _sweeps(log: str) -> list[str]:
    """RQ's lines about starting a sweep job (one per SCHEDULER_INTERVAL)."""
    return [
        line for line in log.splitlines() if " DEBUG rq.worker: " in line and "workers.jobs.sweep() (sweep-" in line
    ]
