"""python -m workers: an RQ worker (with RQ's scheduler for retries) and the periodic sweeps."""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

from gateway import keys, log_levels, logs, redis_conn, runtime
from gateway.config import ConfigError
from gateway.runtime import QUEUE_NAME, Runtime
from workers import periodic, sender

log = logging.getLogger("workers")


def tick_forever(rt: Runtime, stop: threading.Event) -> None:
    """Every SCHEDULER_INTERVAL seconds, one worker of the fleet queues the sweeps."""
    interval = rt.settings.scheduler_interval
    while not stop.wait(interval):
        try:
            if rt.redis.set(keys.scheduler_lock(), "1", nx=True, ex=max(1, interval - 1)):
                periodic.queue_sweeps(rt)
        except Exception:
            log.exception("could not queue the periodic sweeps; trying again next tick")


def main() -> None:
    try:
        rt = runtime.current()
    except ConfigError as exc:
        raise SystemExit(f"worker not started: {exc}") from None
    # A worker waits out a Redis failover instead of quitting on the first error.
    redis_conn.be_patient(rt.redis)
    redis_conn.be_patient(rt.rq_redis)
    logs.configure(rt.settings.log_level, rt.settings.log_format)
    log_levels.quiet_libraries()
    log_levels.quiet_rq_worker(periodic.routine_lines())
    stop = threading.Event()
    periodic.queue_sweeps(rt)
    threading.Thread(target=tick_forever, args=(rt, stop), daemon=True, name="ticker").start()
    # Jobs hand their SMS to a pool of sender threads: requests to the SMS API overlap.
    pool = sender.BackgroundSender(rt.settings.sms_send_threads) if rt.settings.sms_send_threads > 0 else None
    sender.install(pool)
    # SimpleWorker runs jobs in this process: no fork, so the database pool stays valid.
    worker = SimpleWorker([QUEUE_NAME], connection=rt.rq_redis)
    try:
        worker.work(with_scheduler=True, logging_level=rt.settings.log_level)
    finally:
        stop.set()
        if pool is not None:
            pool.shutdown()  # the messages handed over are sent before the process ends


if __name__ == "__main__":
    main()
