"""A worker process gives way to the web: it lowers its own CPU priority (WORKER_NICENESS)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import ConfigError, Settings, check
from tests.helpers import start_worker


def _niceness_of_running_worker(rt, settings: Settings, tmp_path: Path, extra: dict[str, str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Start `python -m workers` as a process manager does (its own session); once it has registered
    with RQ: its niceness, and its session's scheduling group as /proc tells it ("" without autogroups)."""
    before = rt.rq_redis.scard("rq:workers")
    worker = start_worker(settings, tmp_path / "worker.log", **extra)
    try:
        deadline = time.monotonic() + 30
        while rt.rq_redis.scard("rq:workers") <= before:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.05)
        # /proc/<pid>/stat: the 19th field is the niceness (fields counted after the command's ")").
        niceness = int(Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        group = Path(f"/proc/{worker.pid}/autogroup")
        return niceness, group.read_text().split()[-1] if group.exists() else ""
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the niceness from Linux /proc")
def test_the_worker_runs_below_the_web_by_default_and_as_set(rt, settings, tmp_path: Path):
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the tests (and the web) at the normal priority
    niceness, group = _niceness_of_running_worker(rt, settings, tmp_path, {})
    # Its own session's group is lowered too, where Linux weighs sessions against each other.
    assert niceness == 10 and group in ("", "10")
    assert _niceness_of_running_worker(rt, settings, tmp_path, {"WORKER_NICENESS": "0"}) == (
        0,
        "" if not group else "0",
    )


def test_a_niceness_out_of_range_is_refused_with_the_variable_named(settings):
    for wrong in (-1, 20):
        with pytest.raises(ConfigError, match="WORKER_NICENESS must be from 0"):
            check(replace(settings, worker_niceness=wrong))
