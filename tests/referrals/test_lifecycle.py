"""Every transition of a referral's lifecycle, and the ones that must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.models import Event, Location, Message, Officer, Referral, Report, Visit, Volunteer
from gateway.referrals import lifecycle
from gateway.referrals.lifecycle import LifecycleError, Refusal
from gateway.registry.imports import path_key
from gateway.runtime import Runtime
from gateway.vocabulary import Category, CloseOutcome, MessageStatus, ReferralStatus
from tests.helpers import (
    GASABO_OFFICER,
    NATIONAL_DESK,
    OFF_DUTY,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    SUPERVISOR,
    VOLUNTEER_PHONE,
    make_report,
    register_officers,
    register_volunteer,
)

NOW = utcnow()


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    register_officers(rt)
    with rt.db.transaction() as session:
        yield session


def _officer(session: Session, phone: str) -> Officer:
    return session.scalars(select(Officer).where(Officer.phone == phone)).one()


def _opened(rt: Runtime, session: Session, urgent: bool = False) -> Referral:
    report_id, _ = make_report(rt, urgent=urgent)
    return lifecycle.open_from_report(rt, session, session.get_one(Report, report_id))


def _routed(rt: Runtime, session: Session) -> Referral:
    referral = _opened(rt, session)
    lifecycle.route(rt, session, referral, NOW)
    return referral


def _events(session: Session, referral: Referral) -> list[tuple[str, str]]:
    rows = session.scalars(select(Event).where(Event.referral_id == referral.id).order_by(Event.id))
    return [(e.kind, e.detail) for e in rows]


def _recipients(session: Session, message_ids: list[int]) -> list[str]:
    return [session.get_one(Message, i).to for i in message_ids]


def _refusal(call: object) -> Refusal:
    assert callable(call)
    with pytest.raises(LifecycleError) as refused:
        call()
    return refused.value.refusal


def test_open_from_report_makes_one_referral_with_a_created_event(rt, session):
    report_id, reference = make_report(rt, category="violence")
    report = session.get_one(Report, report_id)
    referral = lifecycle.open_from_report(rt, session, report)
    assert lifecycle.open_from_report(rt, session, report).id == referral.id
    assert (referral.reference, referral.category, referral.status) == (reference, "violence", ReferralStatus.NEW)
    assert referral.reporter_kind == "community"
    assert _events(session, referral) == [("created", "from a ussd report")]


def test_open_from_visit_makes_a_placement_referral_only_for_a_visit_with_concerns(rt, session):
    register_volunteer(rt)
    volunteer = session.scalars(select(Volunteer).where(Volunteer.phone == VOLUNTEER_PHONE)).one()
    visits = [
        Visit(session_id=f"s{i}", reference=ref, volunteer_id=volunteer.id, village_id=volunteer.village_id,
              household_code="H1", concerns=concerns)
        for i, (ref, concerns) in enumerate([("1000009", ["health", "economy"]), ("1000017", [])])
    ]  # fmt: skip
    session.add_all(visits)
    session.flush()
    referral = lifecycle.open_from_visit(rt, session, visits[0])
    assert referral is not None and lifecycle.open_from_visit(rt, session, visits[0]) is referral
    assert (referral.category, referral.channel) == (Category.PLACEMENT, "visit")
    assert referral.domains == ["health", "economy"]
    assert _events(session, referral) == [("created", "home visit concerns: health, economy")]
    assert lifecycle.open_from_visit(rt, session, visits[1]) is None


def test_route_alerts_the_on_duty_officers_once(rt, session):
    referral = _opened(rt, session)
    alerts = lifecycle.route(rt, session, referral, NOW)
    assert _recipients(session, alerts) == [SOCIAL_WORKER, PSYCHOLOGIST]
    assert referral.status == ReferralStatus.ROUTED and referral.escalate_at is not None
    assert lifecycle.route(rt, session, referral, NOW) == []
    assert [k for k, _ in _events(session, referral)] == ["created", "routed"]


def test_route_of_a_district_with_nobody_goes_to_the_national_desk_flagged(rt, session):
    report_id, _ = make_report(rt, place=("Musanze",))
    referral = lifecycle.open_from_report(rt, session, session.get_one(Report, report_id))
    assert _recipients(session, lifecycle.route(rt, session, referral, NOW)) == [NATIONAL_DESK]
    assert referral.flagged


def test_escalate_moves_one_tier_up_and_stops_once_acknowledged(rt, session):
    referral = _routed(rt, session)
    assert _recipients(session, lifecycle.escalate(rt, session, referral, NOW + timedelta(days=1))) == [OFF_DUTY]
    assert referral.escalation_step == 1 and _events(session, referral)[-1][0] == "escalated"
    lifecycle.acknowledge(session, referral, _officer(session, SOCIAL_WORKER), NOW)
    assert lifecycle.escalate(rt, session, referral, NOW + timedelta(days=2)) == []
    assert referral.escalate_at is None


def test_fail_over_sends_to_the_next_contact_once(rt, session):
    referral = _routed(rt, session)
    failed = session.scalars(select(Message).where(Message.referral_id == referral.id).order_by(Message.id)).first()
    assert failed is not None
    assert _recipients(session, lifecycle.fail_over(rt, session, failed, NOW)) == [OFF_DUTY]
    assert lifecycle.fail_over(rt, session, failed, NOW) == []


def test_acknowledge_takes_the_case_and_tells_the_others_whose_alert_went_out(rt, session):
    referral = _routed(rt, session)
    for message in session.scalars(select(Message).where(Message.referral_id == referral.id)):
        message.status = MessageStatus.SENT
    officer = _officer(session, PSYCHOLOGIST)
    notices = lifecycle.acknowledge(session, referral, officer, NOW)
    assert _recipients(session, notices) == [SOCIAL_WORKER]
    assert (referral.status, referral.acknowledged_by_id, referral.escalate_at) == ("acknowledged", officer.id, None)
    assert _events(session, referral)[-1] == ("acknowledged", "by SMS")
    # The same officer again: nothing changes, nobody is told twice.
    assert lifecycle.acknowledge(session, referral, officer, NOW) == []
    assert [k for k, _ in _events(session, referral)].count("acknowledged") == 1


def test_acknowledge_is_refused_when_another_officer_took_it_or_it_is_closed(rt, session):
    referral = _routed(rt, session)
    lifecycle.acknowledge(session, referral, _officer(session, PSYCHOLOGIST), NOW)
    other = _officer(session, SOCIAL_WORKER)
    assert _refusal(lambda: lifecycle.acknowledge(session, referral, other, NOW)) == Refusal.ALREADY_ACKNOWLEDGED
    lifecycle.close(rt, session, referral, other, NOW, outcome=CloseOutcome.REFERRED)
    assert _refusal(lambda: lifecycle.acknowledge(session, referral, other, NOW)) == Refusal.ALREADY_CLOSED
    assert referral.acknowledged_by_id == _officer(session, PSYCHOLOGIST).id


def test_an_officer_of_another_district_not_alerted_may_not_act(rt, session):
    referral = _routed(rt, session)
    stranger = _officer(session, GASABO_OFFICER)
    assert not lifecycle.may_act(session, stranger, referral)
    for call in (
        lambda: lifecycle.acknowledge(session, referral, stranger, NOW),
        lambda: lifecycle.close(rt, session, referral, stranger, NOW, note="x"),
        lambda: lifecycle.transfer(rt, session, referral, stranger, referral.location_id, NOW),
    ):
        assert _refusal(call) == Refusal.NOT_ALLOWED
    assert referral.status == ReferralStatus.ROUTED
    assert lifecycle.may_act(session, _officer(session, NATIONAL_DESK), referral)


def test_close_keeps_the_outcome_and_the_note_encrypted_and_is_refused_twice(rt, session):
    referral = _routed(rt, session)
    officer = _officer(session, SUPERVISOR)
    lifecycle.close(rt, session, referral, officer, NOW, note="Isange visit", outcome=CloseOutcome.FAMILY_SUPPORTED)
    assert (referral.status, referral.closed_at, referral.escalate_at) == ("closed", NOW, None)
    assert referral.acknowledged_by_id == officer.id  # closed unacknowledged: the closer's
    assert rt.crypto.decrypt(referral.close_note_enc) == "Isange visit"
    assert _events(session, referral)[-1] == ("closed", "by SMS, outcome Family supported, with a note")
    again = lambda: lifecycle.close(rt, session, referral, officer, NOW, note="again")  # noqa: E731
    assert _refusal(again) == Refusal.ALREADY_CLOSED
    assert rt.crypto.decrypt(referral.close_note_enc) == "Isange visit"


def test_reopen_makes_a_closed_case_the_reopeners_and_is_refused_when_open(rt, session):
    referral = _routed(rt, session)
    officer = _officer(session, PSYCHOLOGIST)
    assert _refusal(lambda: lifecycle.reopen(session, referral, officer, NOW)) == Refusal.NOT_CLOSED
    lifecycle.close(rt, session, referral, _officer(session, SOCIAL_WORKER), NOW, note="done")
    lifecycle.reopen(session, referral, officer, NOW + timedelta(hours=1))
    assert (referral.status, referral.closed_at, referral.acknowledged_by_id) == ("acknowledged", None, officer.id)
    assert _events(session, referral)[-1][0] == "reopened"


def test_transfer_routes_the_case_from_the_start_in_the_new_district(rt, session):
    referral = _routed(rt, session)
    gasabo = session.scalars(select(Location.id).where(Location.path == path_key("Gasabo"))).one()
    officer = _officer(session, SOCIAL_WORKER)
    alerts = lifecycle.transfer(rt, session, referral, officer, gasabo, NOW)
    assert _recipients(session, alerts) == [GASABO_OFFICER]
    assert (referral.district_id, referral.location_id, referral.status) == (gasabo, gasabo, "routed")
    kind, detail = _events(session, referral)[-2]
    assert kind == "transferred" and "Ubumwe" in detail and "Gasabo" in detail
    desk = _officer(session, NATIONAL_DESK)
    assert _refusal(lambda: lifecycle.transfer(rt, session, referral, desk, gasabo, NOW)) == Refusal.SAME_DISTRICT


def test_transfer_of_a_closed_case_is_refused(rt, session):
    referral = _routed(rt, session)
    officer = _officer(session, SOCIAL_WORKER)
    lifecycle.close(rt, session, referral, officer, NOW, note="done")
    gasabo = session.scalars(select(Location.id).where(Location.path == path_key("Gasabo"))).one()
    assert _refusal(lambda: lifecycle.transfer(rt, session, referral, officer, gasabo, NOW)) == Refusal.ALREADY_CLOSED
    assert referral.district_id != gasabo


def test_a_person_in_the_admin_web_acts_by_name_and_the_outcome_is_kept_until_reopened(rt, session):
    referral = _routed(rt, session)
    for message in session.scalars(select(Message).where(Message.referral_id == referral.id)):
        message.status = MessageStatus.SENT
    notices = lifecycle.acknowledge(session, referral, None, NOW, via="admin web", actor="user:olive@example.org")
    # Everyone whose alert went out hears the case is taken.
    assert sorted(_recipients(session, notices)) == sorted([SOCIAL_WORKER, PSYCHOLOGIST])
    assert (referral.status, referral.acknowledged_by_id) == ("acknowledged", None)
    lifecycle.close(rt, session, referral, None, NOW, outcome=CloseOutcome.PLACED, via="admin web", actor="user:a")
    assert referral.outcome == CloseOutcome.PLACED
    lifecycle.reopen(session, referral, None, NOW, via="admin web", actor="user:a")
    assert referral.outcome is None
    rows = session.scalars(select(Event).where(Event.referral_id == referral.id).order_by(Event.id)).all()
    assert [(e.kind, e.actor) for e in rows][-3:] == [
        ("acknowledged", "user:olive@example.org"),
        ("closed", "user:a"),
        ("reopened", "user:a"),
    ]


def test_a_note_is_on_the_timeline_with_its_words_encrypted(rt, session):
    referral = _routed(rt, session)
    lifecycle.add_note(rt, session, referral, "user:olive@example.org", "  Met the mother at the school  ", NOW)
    event = session.scalars(select(Event).where(Event.referral_id == referral.id).order_by(Event.id.desc())).first()
    assert event is not None and (event.kind, event.detail) == ("noted", "a note")
    assert event.note_enc is not None and b"mother" not in event.note_enc
    assert rt.crypto.decrypt(event.note_enc) == "Met the mother at the school"
    with pytest.raises(ValueError):
        lifecycle.add_note(rt, session, referral, "user:x", "   ", NOW)


def test_reassign_alerts_the_new_officer_and_an_acknowledged_case_becomes_theirs(rt, session):
    referral = _routed(rt, session)
    lifecycle.acknowledge(session, referral, _officer(session, PSYCHOLOGIST), NOW)
    supervisor = _officer(session, SUPERVISOR)
    alerts = lifecycle.reassign(rt, session, referral, supervisor, NOW, actor="user:ada@example.org")
    assert _recipients(session, alerts) == [SUPERVISOR]
    assert referral.acknowledged_by_id == supervisor.id
    assert _events(session, referral)[-1] == ("reassigned", f"to officer:{supervisor.id}")
    lifecycle.close(rt, session, referral, supervisor, NOW)
    again = lambda: lifecycle.reassign(rt, session, referral, supervisor, NOW, actor="user:x")  # noqa: E731
    assert _refusal(again) == Refusal.ALREADY_CLOSED


def test_link_duplicate_then_confirm_and_unlink_record_both_timelines(rt):
    register_officers(rt)
    report_ids = [make_report(rt)[0], make_report(rt)[0]]  # before the session writes (SQLite)
    with rt.db.transaction() as session:
        earlier, later = (lifecycle.open_from_report(rt, session, session.get_one(Report, i)) for i in report_ids)
        _check_links(session, earlier, later)


def _check_links(session: Session, earlier: Referral, later: Referral) -> None:
    assert later.duplicate_of_id == earlier.id  # same village, category, age band and sex, just now
    officer = _officer(session, SOCIAL_WORKER)
    assert lifecycle.confirm_duplicate(session, later, officer, NOW) is earlier and later.duplicate_confirmed
    assert lifecycle.unlink_duplicate(session, later, "ada@example.org", NOW) is earlier
    assert (later.duplicate_of_id, later.duplicate_confirmed) == (None, False)
    assert [k for k, _ in _events(session, later) if k in ("linked", "confirmed", "unlinked")] == [
        "linked",
        "confirmed",
        "unlinked",
    ]
    assert _events(session, earlier)[-1] == ("unlinked", f"{later.reference} is not this case")


def test_confirming_or_undoing_a_link_that_is_not_there_is_refused(rt, session):
    referral = _routed(rt, session)
    officer = _officer(session, SOCIAL_WORKER)
    assert _refusal(lambda: lifecycle.confirm_duplicate(session, referral, officer, NOW)) == Refusal.NOT_LINKED
    assert _refusal(lambda: lifecycle.unlink_duplicate(session, referral, officer, NOW)) == Refusal.NOT_LINKED
    stranger = _officer(session, GASABO_OFFICER)
    assert _refusal(lambda: lifecycle.unlink_duplicate(session, referral, stranger, NOW)) == Refusal.NOT_ALLOWED


def test_remind_tells_the_officer_then_the_supervisor_and_nothing_before_the_delay(rt, session):
    referral = _routed(rt, session)
    lifecycle.acknowledge(session, referral, _officer(session, PSYCHOLOGIST), NOW)
    days = rt.settings.reminder_days
    assert lifecycle.remind(rt, session, referral, NOW + timedelta(days=days, seconds=-1)) == []
    assert _recipients(session, lifecycle.remind(rt, session, referral, NOW + timedelta(days=days))) == [PSYCHOLOGIST]
    assert lifecycle.remind(rt, session, referral, NOW + timedelta(days=days + 1)) == []
    later = NOW + timedelta(days=2 * days)
    assert _recipients(session, lifecycle.remind(rt, session, referral, later)) == [SUPERVISOR]
    assert lifecycle.remind(rt, session, referral, later + timedelta(days=30)) == []
    assert [k for k, _ in _events(session, referral)].count("reminded") == 2
