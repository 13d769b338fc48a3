"""python -m workers [QUEUE ...]: an RQ worker (routing first, then sending), RQ's scheduler for
retries, the periodic sweeps, and a heartbeat that lets the fleet see it is alive.

With IJWI_SUPERVISE_WORKER=1 (set by ./ijwi run) the process is a supervisor that starts
the worker as a child and starts it again whenever it dies.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rq import SimpleWorker
from rq.scheduler import RQScheduler

from gateway import keys, log_levels, logs, redis_conn, runtime
from gateway.config import ConfigError
from gateway.runtime import ROUTING_QUEUE, WORKER_QUEUES, Runtime
from workers import inbox, periodic, sender

log = logging.getLogger("workers")

# Seconds a thread runs before another waiting for the interpreter may take over (Python's
# default is 0.005): every time the job thread comes back from the database or Redis it waits
# for the sender threads, and 32 of them made it wait up to 5 ms at each of a job's round trips.
SWITCH_INTERVAL = 0.001
# Seconds between two writes of RQ's own worker heartbeat (besides those RQ asks with a timeout).
RQ_BEAT_EVERY = 1.0
# Seconds between two looks at RQ's scheduled jobs (retries waiting for their time).
SCHEDULE_EVERY = 1.0
# The CPU-scheduling group of this process's session (Linux autogroups).
AUTOGROUP = Path("/proc/self/autogroup")
# Seconds a stopping worker waits for its inbox thread to finish routing the reports it took.
ROUTER_STOP_SECONDS = 20
# Set in the environment: supervise a worker child instead of being one.
SUPERVISE_VARIABLE = "IJWI_SUPERVISE_WORKER"
# Seconds the supervisor waits before starting a worker that died again.
RESTART_DELAY = 1.0
# The longest wait between two starts of a worker that keeps dying at once.
RESTART_DELAY_MAX = 30.0


class Worker(SimpleWorker):
    """RQ's SimpleWorker (jobs run in this process: no fork, so the database pool stays valid),
    writing its own heartbeat to Redis at most once every RQ_BEAT_EVERY seconds: RQ writes it
    three times around every job (three round trips each), which a busy queue does not need
    (it lives worker_ttl seconds)."""

    _beaten_at = -math.inf

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if timeout is None and pipeline is None and time.monotonic() - self._beaten_at < RQ_BEAT_EVERY:
            return
        self._beaten_at = time.monotonic()
        super().heartbeat(timeout, pipeline)


def beat_forever(rt: Runtime, name: str, stop: threading.Event) -> None:
    """Say this worker is alive, every third of WORKER_HEARTBEAT_TTL (a killed worker stops)."""
    every = rt.settings.worker_heartbeat_ttl / 3
    while True:
        try:
            rt.worker_beat(name)
        except Exception:
            log.warning("heartbeat not written (Redis unreachable?); trying again")
        if stop.wait(every):
            return


def tick_forever(rt: Runtime, scheduler: RQScheduler, stop: threading.Event) -> None:
    """Every second, move retries that are due to their queue (RQ's scheduler, in this thread:
    a killed worker leaves no scheduler process behind, and its lock expires); every
    SCHEDULER_INTERVAL seconds, one worker of the fleet queues the sweeps."""
    interval = rt.settings.scheduler_interval
    next_sweep = time.monotonic() + interval
    while not stop.wait(SCHEDULE_EVERY):
        try:
            if scheduler.acquired_locks != set(WORKER_QUEUES):
                scheduler.acquire_locks()  # type: ignore[no-untyped-call]
            if scheduler.acquired_locks:
                scheduler.heartbeat()  # type: ignore[no-untyped-call]
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
        except Exception:
            log.exception("could not move the scheduled jobs; trying again")
        if time.monotonic() < next_sweep:
            continue
        next_sweep = time.monotonic() + interval
        try:
            if rt.redis.set(keys.scheduler_lock(), "1", nx=True, ex=max(1, interval - 1)):
                periodic.queue_sweeps(rt)
        except Exception:
            log.exception("could not queue the periodic sweeps; trying again next tick")


def give_way_to_web(niceness: int) -> None:
    """Lower this process's CPU priority to niceness (never raise it back): when web and worker
    share the cores and both have work, the hops are answered first and the routing and alerts,
    durable in the database and Redis, catch up as soon as the load eases.

    Linux with autogroups weighs sessions, not processes, against each other: a worker leading
    its own session (started by a process manager, or the bench) lowers its session's group too,
    else its niceness would count only against itself. (Under cgroups, e.g. systemd units, the
    unit's CPUWeight= does this: see docs/deploy.md.)"""
    if niceness <= os.getpriority(os.PRIO_PROCESS, 0):
        return
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        try:
            AUTOGROUP.write_text(str(niceness))
        except OSError:
            log.warning("could not lower the worker's session group (autogroup) priority")


def work(queues: list[str]) -> None:
    try:
        rt = runtime.current()
    except ConfigError as exc:
        raise SystemExit(f"worker not started: {exc}") from None
    give_way_to_web(rt.settings.worker_niceness)
    # A worker waits out a Redis failover instead of quitting on the first error.
    redis_conn.be_patient(rt.redis)
    redis_conn.be_patient(rt.rq_redis)
    logs.configure(rt.settings.log_level, rt.settings.log_format)
    log_levels.quiet_libraries()
    log_levels.quiet_rq_worker(periodic.routine_lines())
    name = f"{socket.gethostname()}.{os.getpid()}"
    stop = threading.Event()
    threading.Thread(target=beat_forever, args=(rt, name, stop), daemon=True, name="heartbeat").start()
    periodic.queue_sweeps(rt)
    scheduler = RQScheduler(list(WORKER_QUEUES), connection=rt.rq_redis, name=name)
    threading.Thread(target=tick_forever, args=(rt, scheduler, stop), daemon=True, name="ticker").start()
    router = threading.Thread(target=inbox.route_forever, args=(rt, stop), daemon=True, name="inbox")
    if ROUTING_QUEUE in queues:
        router.start()
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Jobs hand their SMS to a pool of sender threads: requests to the SMS API overlap.
    pool = sender.BackgroundSender(rt.settings.sms_send_threads) if rt.settings.sms_send_threads > 0 else None
    sender.install(pool)
    worker = Worker(queues, connection=rt.rq_redis, name=name)
    try:
        worker.work(with_scheduler=False, logging_level=rt.settings.log_level)
    finally:
        stop.set()
        if router.is_alive():
            router.join(ROUTER_STOP_SECONDS)  # the reports it has taken get their alerts first
        if pool is not None:
            pool.shutdown()  # the messages handed over are sent before the process ends
        try:
            scheduler.release_locks()  # type: ignore[no-untyped-call]
            rt.worker_gone(name)
        except Exception:
            log.warning("could not say goodbye to Redis; the heartbeat will expire")


def supervise(argv: list[str]) -> int:
    """Run a worker child and start it again whenever it dies, until told to stop."""
    env = {k: v for k, v in os.environ.items() if k != SUPERVISE_VARIABLE}
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = RESTART_DELAY
    while True:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "workers", *argv], env=env)
        code = child.wait()
        if stopping:
            return code
        # A worker that dies at once (a setting to fix) is started less and less often.
        delay = min(delay * 2, RESTART_DELAY_MAX) if time.monotonic() - started < 10 else RESTART_DELAY
        print(
            f"worker (pid {child.pid}) stopped with code {code}; starting a new one in {delay:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(delay)


def main(argv: list[str]) -> int:
    if os.environ.get(SUPERVISE_VARIABLE):
        return supervise(argv)
    unknown = [q for q in argv if q not in WORKER_QUEUES]
    if unknown:
        raise SystemExit(f"unknown queue {unknown[0]!r}; queues: {', '.join(WORKER_QUEUES)}")
    work(argv or list(WORKER_QUEUES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
