"""Unacknowledged referrals climb the chain after their delay; the clock is the test's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Assignment, Event, Message, Officer, Referral
from gateway.referrals.lifecycle import acknowledge
from tests.helpers import (
    NATIONAL_DESK,
    OFF_DUTY,
    PSYCHOLOGIST,
    SECTOR_CONTACT,
    SOCIAL_WORKER,
    SUPERVISOR,
    make_report,
    register_officers,
)
from workers import jobs, periodic

DAY = timedelta(seconds=86400)
HALF_HOUR = timedelta(seconds=1800)


def _alerted(rt) -> list[str]:  # type: ignore[no-untyped-def]
    """Phones alerted so far, in order."""
    with rt.db.reading() as session:
        return list(session.scalars(select(Message.to).where(Message.kind == "alert").order_by(Message.id)))


def _referral(rt) -> Referral:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Referral)).one()


def test_unacknowledged_referral_climbs_the_chain_one_step_per_delay(rt):
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt, urgent=False)[0], now=start)
    assert _alerted(rt) == [SOCIAL_WORKER, PSYCHOLOGIST]

    assert jobs.escalate(now=start + DAY - timedelta(seconds=1)) == 0
    assert jobs.escalate(now=start + DAY) == 1
    assert _alerted(rt)[2:] == [OFF_DUTY]  # the next officer
    assert jobs.escalate(now=start + DAY + timedelta(hours=1)) == 0  # a new delay started
    assert jobs.escalate(now=start + 2 * DAY) == 1
    assert _alerted(rt)[3:] == [SUPERVISOR]
    assert jobs.escalate(now=start + 3 * DAY) == 1
    assert _alerted(rt)[4:] == [NATIONAL_DESK]
    assert jobs.escalate(now=start + 4 * DAY) == 1  # the top: recorded, nothing more to send
    assert _alerted(rt)[5:] == []
    referral = _referral(rt)
    assert referral.escalate_at is None and referral.escalation_step == 3
    assert jobs.escalate(now=start + 10 * DAY) == 0

    with rt.db.reading() as session:
        steps = session.execute(
            select(Officer.phone, Assignment.step, Assignment.reason)
            .join(Officer, Officer.id == Assignment.officer_id)
            .order_by(Assignment.id)
        ).all()
        escalations = session.scalars(select(Event).where(Event.kind == "escalated").order_by(Event.id)).all()
    assert [tuple(s) for s in steps] == [
        (SOCIAL_WORKER, 0, "on_duty"),
        (PSYCHOLOGIST, 0, "on_duty"),
        (OFF_DUTY, 1, "next_officer"),
        (SUPERVISOR, 2, "supervisor"),
        (NATIONAL_DESK, 3, "national_desk"),
    ]
    assert [e.at - start for e in escalations] == [DAY, 2 * DAY, 3 * DAY, 4 * DAY]
    assert "next_officer" in escalations[0].detail and "supervisor" in escalations[1].detail
    assert "top of the chain" in escalations[3].detail


def test_an_escalated_alert_says_nobody_answered_it(rt):
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt, urgent=False)[0], now=start)
    jobs.escalate(now=start + DAY)  # to the off-duty social worker, who reads French
    jobs.escalate(now=start + 2 * DAY)  # to the supervisor, in English
    with rt.db.reading() as session:
        bodies = dict(session.execute(select(Message.to, Message.body).where(Message.kind == "alert")).all())
    assert bodies[SOCIAL_WORKER].startswith("Ijwi case ")
    assert bodies[OFF_DUTY].startswith("SANS REPONSE: cas ")
    assert bodies[SUPERVISOR].startswith("NOT ANSWERED: case ")
    assert all(len(body) <= 160 for body in bodies.values())


def test_urgent_referral_escalates_after_the_urgent_delay(rt):
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt, urgent=True)[0], now=start)
    assert _alerted(rt) == [SOCIAL_WORKER, PSYCHOLOGIST, SECTOR_CONTACT]
    assert jobs.escalate(now=start + HALF_HOUR - timedelta(seconds=1)) == 0
    assert jobs.escalate(now=start + HALF_HOUR) == 1
    assert _alerted(rt)[3:] == [OFF_DUTY]
    # Sent by the escalation job itself, no send job queued.
    assert rt.sms.outbox[-1][0] == OFF_DUTY and rt.queue.count == 0


def test_escalation_delays_come_from_the_settings(app, app_with):
    rt = app_with(escalation_urgent_seconds=60).extensions["ijwi"]
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt, urgent=True)[0], now=start)
    assert jobs.escalate(now=start + timedelta(seconds=59)) == 0
    assert jobs.escalate(now=start + timedelta(seconds=60)) == 1


def test_acknowledged_referral_does_not_escalate(rt):
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt)[0], now=start)
    with rt.db.transaction() as session:
        referral = session.scalars(select(Referral)).one()
        officer = session.scalars(select(Officer).where(Officer.phone == PSYCHOLOGIST)).one()
        acknowledge(session, referral, officer, start + timedelta(hours=1))
    assert jobs.escalate(now=start + 5 * DAY) == 0
    assert _alerted(rt) == [SOCIAL_WORKER, PSYCHOLOGIST]


def test_escalation_run_twice_for_the_same_moment_moves_once(rt):
    register_officers(rt)
    start = utcnow()
    jobs.route_report(make_report(rt)[0], now=start)
    assert jobs.escalate(now=start + DAY) == 1
    assert jobs.escalate(now=start + DAY) == 0
    assert _alerted(rt) == [SOCIAL_WORKER, PSYCHOLOGIST, OFF_DUTY]


def test_escalation_is_one_of_the_periodic_jobs(rt):
    assert jobs.escalate in periodic.PERIODIC_JOBS and jobs.sweep in periodic.PERIODIC_JOBS
