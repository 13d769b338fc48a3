"""Nothing left open quietly: reminders about cases still open days after they were taken, and
the daily digest to each district supervisor, at the right times (the clock is the test's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.models import Event, Message, Officer, Referral
from gateway.referrals import lifecycle
from gateway.vocabulary import CloseOutcome
from tests.helpers import (
    GASABO_OFFICER,
    NATIONAL_DESK,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    SUPERVISOR,
    make_report,
    register_officers,
)
from workers import jobs, periodic

# Monday 2 March 2026, 06:00 in Rwanda (04:00 UTC).
MORNING = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return replace(settings, reminder_days=3, digest_hour=18)


def _sent(rt, kind: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        rows = session.execute(select(Message.to, Message.body).where(Message.kind == kind).order_by(Message.id))
        return [(to, body) for to, body in rows]


def _routed_case(rt, at: datetime) -> str:  # type: ignore[no-untyped-def]
    """A case opened and routed at `at`; its reference."""
    report_id, reference = make_report(rt)
    jobs.route_report(report_id, now=at)
    with rt.db.transaction() as session:
        session.scalars(select(Referral).where(Referral.reference == reference)).one().created_at = at
    return reference


def _taken_case(rt, at: datetime) -> str:  # type: ignore[no-untyped-def]
    """A case routed at `at` and acknowledged by the social worker right then; its reference."""
    reference = _routed_case(rt, at)
    with rt.db.transaction() as session:
        referral = session.scalars(select(Referral).where(Referral.reference == reference)).one()
        officer = session.scalars(select(Officer).where(Officer.phone == SOCIAL_WORKER)).one()
        lifecycle.acknowledge(session, referral, officer, at)
    return reference


def test_the_officer_is_reminded_after_the_setting_then_the_supervisor(rt):
    register_officers(rt)
    ref = _taken_case(rt, MORNING)
    assert jobs.remind(now=MORNING + 3 * DAY - timedelta(minutes=1)) == 0
    assert jobs.remind(now=MORNING + 3 * DAY) == 1
    assert _sent(rt, "reminder") == [
        (
            SOCIAL_WORKER,
            f"Ijwi: case {ref} is still open after 3 days. When it is done, send DONE {ref} <outcome 1-5>. "
            f"INFO {ref} for a summary.",
        )
    ]
    assert jobs.remind(now=MORNING + 5 * DAY) == 0  # once
    assert jobs.remind(now=MORNING + 6 * DAY) == 1
    assert _sent(rt, "reminder")[1:] == [
        (
            SUPERVISOR,
            f"Ijwi: case {ref} (Nyarugenge) is still open 6 days after it was taken; its officer was reminded. "
            f"INFO {ref} for a summary.",
        )
    ]
    assert jobs.remind(now=MORNING + 30 * DAY) == 0
    with rt.db.reading() as session:
        reminded = session.scalars(select(Event.detail).where(Event.kind == "reminded").order_by(Event.id)).all()
    assert reminded == [
        "open 3 days after it was taken: its officer reminded",
        "open 6 days after it was taken: the district supervisor reminded",
    ]


def test_a_closed_or_unacknowledged_case_gets_no_reminder(rt):
    register_officers(rt)
    ref = _taken_case(rt, MORNING)
    _routed_case(rt, MORNING)  # never acknowledged: escalation's business
    with rt.db.transaction() as session:
        referral = session.scalars(select(Referral).where(Referral.reference == ref)).one()
        officer = session.scalars(select(Officer).where(Officer.phone == SOCIAL_WORKER)).one()
        lifecycle.close(rt, session, referral, officer, MORNING + DAY, outcome=CloseOutcome.REFERRED)
    assert jobs.remind(now=MORNING + 10 * DAY) == 0
    assert _sent(rt, "reminder") == []


def test_reopening_starts_the_reminders_again(rt):
    register_officers(rt)
    ref = _taken_case(rt, MORNING)
    jobs.remind(now=MORNING + 3 * DAY)
    with rt.db.transaction() as session:
        referral = session.scalars(select(Referral).where(Referral.reference == ref)).one()
        psychologist = session.scalars(select(Officer).where(Officer.phone == PSYCHOLOGIST)).one()
        lifecycle.close(rt, session, referral, psychologist, MORNING + 4 * DAY, outcome=CloseOutcome.OTHER)
        lifecycle.reopen(session, referral, psychologist, MORNING + 5 * DAY)
    assert jobs.remind(now=MORNING + 7 * DAY) == 0
    assert jobs.remind(now=MORNING + 8 * DAY) == 1
    assert _sent(rt, "reminder")[-1][0] == PSYCHOLOGIST


def test_the_digest_goes_to_each_district_supervisor_once_a_day_at_the_hour(rt):
    register_officers(rt)
    _taken_case(rt, MORNING - 5 * DAY)  # open, overdue
    _routed_case(rt, MORNING)  # new, open
    evening = MORNING.replace(hour=16)  # 18:00 in Rwanda
    assert jobs.send_digests(now=evening - timedelta(minutes=1)) == 0
    assert jobs.send_digests(now=evening) == 1
    assert _sent(rt, "digest") == [
        (SUPERVISOR, "Ijwi Nyarugenge 02/03: 1 new, 2 open, 1 overdue, 0 escalated, 0 alerts not delivered.")
    ]
    assert jobs.send_digests(now=evening + timedelta(hours=5)) == 0  # once that day
    assert jobs.send_digests(now=evening + DAY) == 1  # the next day
    assert _sent(rt, "digest")[1] == (
        SUPERVISOR,
        "Ijwi Nyarugenge 03/03: 0 new, 2 open, 1 overdue, 0 escalated, 0 alerts not delivered.",
    )


def test_no_digest_when_there_is_nothing_to_say(rt):
    register_officers(rt)
    assert jobs.send_digests(now=MORNING.replace(hour=20)) == 0
    assert _sent(rt, "digest") == []
    # Gasabo has no supervisor, the national desk gets no district digest.
    assert all(to not in (GASABO_OFFICER, NATIONAL_DESK) for to, _ in _sent(rt, "digest"))


def test_reminders_and_the_digest_are_periodic_jobs(rt):
    assert jobs.remind in periodic.PERIODIC_JOBS and jobs.send_digests in periodic.PERIODIC_JOBS


def test_the_digest_counts_escalated_cases_and_alerts_not_delivered(rt):
    register_officers(rt)
    ref = _routed_case(rt, MORNING - 2 * DAY)
    assert jobs.escalate(now=MORNING - DAY) == 1  # unanswered for a day: one tier up
    with rt.db.transaction() as session:
        referral = session.scalars(select(Referral).where(Referral.reference == ref)).one()
        alert = session.scalars(select(Message).where(Message.referral_id == referral.id)).first()
        assert alert is not None
        alert.status, alert.updated_at = "failed", MORNING
    assert jobs.send_digests(now=MORNING.replace(hour=17)) == 1
    assert _sent(rt, "digest") == [
        (SUPERVISOR, "Ijwi Nyarugenge 02/03: 0 new, 1 open, 0 overdue, 1 escalated, 1 alerts not delivered.")
    ]
