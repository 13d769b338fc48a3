"""GET /healthz (the process is up) and GET /readyz (Redis and the database answer)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import func, select, text

from gateway import canary, keys, metrics, runtime
from gateway.clock import utcnow
from gateway.models import Report

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = runtime.current()
    checks: dict[str, str] = {}
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("readyz: redis unreachable: %s", type(exc).__name__)
        checks["redis"] = "unreachable"
        metrics.READINESS_FAILURES.labels("redis").inc()
    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readyz: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
        metrics.READINESS_FAILURES.labels("database").inc()
    if checks["database"] == "ok":
        # A wrong key starts nothing but fails every hop and case read: not ready.
        checks["encryption_key"] = canary.check(rt).value
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503


@bp.get("/readyz/work")
def work():  # type: ignore[no-untyped-def]
    """The work behind the web, for monitoring (not for a load balancer: the web takes reports
    without workers): a worker is alive, no report waits for routing longer than
    ROUTING_DELAY_ALERT, and the SMS account has credit. 503 naming what is wrong."""
    rt = runtime.current()
    now = utcnow()
    checks: dict[str, object] = {}
    try:
        checks["workers_alive"] = rt.live_workers()
        checks["sms_credit"] = "out" if rt.redis.exists(keys.no_credit()) else "ok"
    except Exception as exc:
        log.warning("readyz/work: redis unreachable: %s", type(exc).__name__)
        return jsonify(status="not ready", redis="unreachable"), 503
    try:
        with rt.db.reading() as session:
            oldest = session.scalar(select(func.min(Report.created_at)).where(Report.routed_at.is_(None)))
    except Exception as exc:
        log.warning("readyz/work: database unreachable: %s", type(exc).__name__)
        return jsonify(status="not ready", database="unreachable", **checks), 503
    waiting = int((now - oldest).total_seconds()) if oldest else 0
    checks["oldest_unrouted_seconds"] = waiting
    problems = []
    if not checks["workers_alive"]:
        problems.append("no worker is alive")
    if waiting > rt.settings.routing_delay_alert:
        problems.append(f"a report has waited {waiting} s for routing")
    if checks["sms_credit"] != "ok":
        problems.append("the SMS account is out of credit")
    return jsonify(status="not ready" if problems else "ready", problems=problems, **checks), 503 if problems else 200
