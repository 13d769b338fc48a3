"""Rate limits per phone, shared by every process through Redis.

Fixed-window counters (INCR and EXPIRE in one round trip): the limits count things a
phone does inside a hop or an SMS (a report filed, a look-up, a command), not HTTP
requests, so a request-level limiter (Flask-Limiter) does not fit: the hop that files a
report is the same route as every other hop, and the phone is known only once the form
is read. Each refusal is logged as one structured line and counted in the metrics
(`ijwi_rate_limited_total{what=...}`).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from gateway import keys, metrics
from gateway.redis_conn import round_trip
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

# Seconds of one counting window.
HOUR = 3600


class Limit(StrEnum):
    """What is counted per phone."""

    REPORT = "report"
    LOOKUP = "lookup"
    COMMAND = "command"
    # A help or refusal SMS the gateway pays for: one an hour.
    HELP_SMS = "help_sms"


def allow(rt: Runtime, kind: Limit, phone_hash: str, per_hour: int) -> bool:
    """Count one more kind for a phone; False (and counted as limited) past per_hour in this hour.

    When Redis cannot count, allow: a limit must never lose a report.
    """
    key = keys.rate(kind, phone_hash, HOUR)
    try:
        count = int(round_trip(rt.redis, ("SET", key, 0, "NX", "EX", HOUR), ("INCR", key))[1])
    except Exception:
        log.warning("rate limit %s not counted (Redis unreachable)", kind)
        return True
    if count <= per_hour:
        return True
    limited(kind)
    return False


def limited(kind: Limit) -> None:
    """Record one refusal by a limit: a structured log line and the metric."""
    log.info("rate_limited kind=%s", kind.value)
    metrics.RATE_LIMITED.labels(kind.value).inc()
