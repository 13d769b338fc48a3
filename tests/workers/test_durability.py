"""Once a caller saw "report received", the report survives a lost queue or a crashed job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway import keys
from gateway.clock import utcnow
from gateway.models import Event, Referral, Report
from tests.helpers import VOLUNTEER_PHONE, Dial, register_volunteer
from workers import jobs


def _report(client, rt) -> str:  # type: ignore[no-untyped-def]
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    end = dial.send("1", "2", "2", "1", "1", "1", "1", "1")
    assert end.startswith("END Thank you")
    return end.split("Reference: ")[1].strip()


def test_report_survives_redis_losing_its_queue(client, rt, run_jobs):
    reference = _report(client, rt)
    rt.redis.flushdb()  # Redis restarted without persistence: the routing job is gone
    run_jobs()
    with rt.db.reading() as session:
        assert session.scalar(select(Referral).where(Referral.reference == reference)) is None
        assert session.scalar(select(Report.routed_at)) is None
    assert jobs.sweep(now=utcnow() + timedelta(minutes=2))["reports"] == 1
    run_jobs()
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        assert referral is not None and referral.category == "neglect"


def test_routing_job_run_twice_makes_one_referral(client, rt, run_jobs):
    reference = _report(client, rt)
    run_jobs()
    with rt.db.reading() as session:
        report_id = session.scalar(select(Report.id))
    first = jobs.route_report(report_id)
    second = jobs.route_report(report_id)
    assert first == second
    with rt.db.reading() as session:
        referrals = session.scalars(select(Referral)).all()
        assert [r.reference for r in referrals] == [reference]
        created = session.scalars(select(Event).where(Event.kind == "created")).all()
        assert len(created) == 1


def test_sweep_leaves_fresh_reports_to_their_own_job(client, rt):
    _report(client, rt)
    assert jobs.sweep()["reports"] == 0


def test_sweep_leaves_a_report_still_waiting_in_the_inbox_during_a_burst(client, rt):
    """Workers behind on a burst: a report older than the sweep's wait but still in the routing
    inbox is not lost, and is left to the worker that will take it (no second routing)."""
    _report(client, rt)
    later = utcnow() + timedelta(seconds=jobs.SWEEP_AFTER + 1)
    assert rt.redis.llen(keys.routing_inbox()) == 1
    assert jobs.sweep(now=later)["reports"] == 0
    assert len(rt.queue) == 0
    rt.redis.delete(keys.routing_inbox())  # taken by a worker that died before routing it
    assert jobs.sweep(now=later)["reports"] == 1
    assert len(rt.queue) == 1
