"""The periodic work, queued on a timer by one worker of the fleet."""

from __future__ import annotations

from gateway.clock import utcnow
from gateway.runtime import Runtime
from workers import jobs

# Jobs queued every tick: each sweeps the database for what is due.
PERIODIC_JOBS = (jobs.sweep, jobs.escalate, jobs.erase_expired)


def queue_sweeps(rt: Runtime) -> None:
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    for job in PERIODIC_JOBS:
        rt.enqueue(job, job_id=f"{job.__name__}-{stamp}")
