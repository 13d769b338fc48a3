"""The periodic work, queued on a timer by one worker of the fleet."""

from __future__ import annotations

import re

from gateway.clock import utcnow
from gateway.runtime import Runtime, job_id
from workers import jobs

# Jobs queued every tick: each sweeps the database for what is due.
PERIODIC_JOBS = (jobs.sweep, jobs.escalate, jobs.remind, jobs.send_digests, jobs.erase_expired, jobs.refresh_rollup)


def routine_lines() -> re.Pattern[str]:
    """What RQ's lines about a periodic job contain (its id or its description): they are
    logged at DEBUG, the job itself logs at INFO what it did."""
    names = "|".join(job.__name__ for job in PERIODIC_JOBS)
    modules = "|".join(re.escape(f"{job.__module__}.{job.__name__}()") for job in PERIODIC_JOBS)
    return re.compile(rf"\b(?:{names})-\d{{14}}\b|{modules}")


def queue_sweeps(rt: Runtime) -> None:
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    for job in PERIODIC_JOBS:
        rt.enqueue(job, job_id=job_id(job.__name__, stamp))
