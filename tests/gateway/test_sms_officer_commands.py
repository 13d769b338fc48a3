"""The officer's whole case by SMS: DONE with an outcome, REOPEN, TRANSFER, DUTY, CASES, HELP,
SAME/NOTSAME, each through the lifecycle, and refused politely where the sender may not act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import AuditEntry, Event, Location, Officer, Referral
from gateway.registry.imports import path_key
from gateway.vocabulary import OUTCOME_LABELS
from tests.helpers import (
    GASABO_OFFICER,
    NATIONAL_DESK,
    OFF_DUTY,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    make_report,
    register_officers,
    sent_to,
    sms_in,
)
from workers import jobs


@pytest.fixture
def case(rt, run_jobs) -> str:  # type: ignore[no-untyped-def]
    """A routed referral in Nyarugenge whose alerts went out; its reference."""
    register_officers(rt)
    report_id, reference = make_report(rt, category="violence")
    jobs.route_report(report_id)
    run_jobs()
    rt.sms.outbox.clear()
    return reference


def _referral(rt, reference: str) -> Referral:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Referral).where(Referral.reference == reference)).one()


def _replies(rt, run_jobs, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    run_jobs()
    return sent_to(rt, phone)


def _timeline(rt, reference: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    referral = _referral(rt, reference)
    with rt.db.reading() as session:
        rows = session.scalars(select(Event).where(Event.referral_id == referral.id).order_by(Event.id))
        return [(e.kind, e.detail) for e in rows]


# --- DONE with an outcome ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "outcome", "note"),
    [
        ("1", "family_supported", None),
        ("SUPPORTED", "family_supported", None),
        ("umuryango", "family_supported", None),
        ("Famille visite faite", "family_supported", "visite faite"),
        ("2 Isange", "referred", "Isange"),
        ("orienté", "referred", None),
        ("yoherejwe", "referred", None),
        ("3", "placed", None),
        ("placé", "placed", None),
        ("4 not true", "unfounded", "not true"),
        ("sibyo", "unfounded", None),
        ("infondé", "unfounded", None),
        ("5", "other", None),
        ("autre", "other", None),
        ("IBINDI", "other", None),
    ],
)
def test_done_takes_the_outcome_as_a_number_or_a_word_in_each_language(client, rt, run_jobs, case, text, outcome, note):
    sms_in(client, SOCIAL_WORKER, f"DONE {case} {text}")
    referral = _referral(rt, case)
    assert (referral.status, referral.outcome) == ("closed", outcome)
    assert (rt.crypto.decrypt(referral.close_note_enc) if referral.close_note_enc else None) == note
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [f"Case {case} is closed. Thank you."]
    label = OUTCOME_LABELS[outcome]  # the timeline says it as the close form does
    assert _timeline(rt, case)[-1][0] == "closed" and f"outcome {label}" in _timeline(rt, case)[-1][1]


# --- REOPEN ---------------------------------------------------------------------------------


def test_reopen_makes_a_closed_case_the_senders_again(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, f"DONE {case} 4")
    sms_in(client, PSYCHOLOGIST, f"REOPEN {case}")
    referral = _referral(rt, case)
    with rt.db.reading() as session:
        psychologist = session.scalars(select(Officer).where(Officer.phone == PSYCHOLOGIST)).one()
    assert (referral.status, referral.outcome, referral.closed_at) == ("acknowledged", None, None)
    assert referral.acknowledged_by_id == psychologist.id
    assert _replies(rt, run_jobs, PSYCHOLOGIST) == [
        f"Dosiye {case} yongeye gufungurwa kandi ni iyanyu. Nimurangiza, mwohereze DONE {case} <1-5>."
    ]
    assert _timeline(rt, case)[-1][0] == "reopened"


def test_reopen_of_an_open_case_is_refused(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, f"REOPEN {case}")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [f"Case {case} is not closed. Nothing was changed."]
    assert _referral(rt, case).status == "routed"


# --- TRANSFER -------------------------------------------------------------------------------


def test_transfer_moves_the_case_and_routing_starts_in_the_new_district(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, f"TRANSFER {case} gasabo")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        f"Case {case} moved to Gasabo; its officers there are alerted. Thank you."
    ]
    [alert] = sent_to(rt, GASABO_OFFICER)
    assert alert == f"Ijwi case {case} (not urgent): Violence/abuse, girl aged 12-17, Gasabo. Reply OK {case}"
    referral = _referral(rt, case)
    with rt.db.reading() as session:
        gasabo = session.scalars(select(Location.id).where(Location.path == path_key("Gasabo"))).one()
    assert (referral.district_id, referral.status, referral.escalation_step) == (gasabo, "routed", 0)
    kinds = [kind for kind, _ in _timeline(rt, case)]
    assert kinds[-3:] == ["transferred", "routed", "sent"]
    why = _timeline(rt, case)[-3][1]
    assert "Ubumwe" in why and "moved to district Gasabo" in why
    # The Gasabo officer may act on it now; the Nyarugenge one could still, having been alerted.
    sms_in(client, GASABO_OFFICER, f"OK {case}")
    assert _referral(rt, case).status == "acknowledged"


@pytest.mark.parametrize(
    ("district", "reply"),
    [
        ("Atlantis", "No district has that name. Example: TRANSFER {ref} Gasabo"),
        ("", "No district has that name. Example: TRANSFER {ref} Gasabo"),
        ("Nyarugenge", "Case {ref} is already in that district. Nothing was changed."),
    ],
)
def test_transfer_to_no_district_or_the_same_one_is_refused(client, rt, run_jobs, case, district, reply):
    sms_in(client, SOCIAL_WORKER, f"TRANSFER {case} {district}")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [reply.format(ref=case)]
    assert _referral(rt, case).status == "routed" and sent_to(rt, GASABO_OFFICER) == []


# --- who may act ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["DONE {ref} 1", "REOPEN {ref}", "TRANSFER {ref} Gasabo", "SAME {ref}", "OK {ref}"])
def test_an_officer_of_another_district_may_not_act_on_a_case(client, rt, run_jobs, case, command):
    sms_in(client, GASABO_OFFICER, command.format(ref=case))
    assert _replies(rt, run_jobs, GASABO_OFFICER) == [f"Case {case} is not in your district. Nothing was changed."]
    referral = _referral(rt, case)
    assert (referral.status, referral.closed_at, referral.duplicate_confirmed) == ("routed", None, False)
    assert sent_to(rt, SOCIAL_WORKER) == []


def test_done_and_reopen_by_the_national_desk_are_allowed(client, rt, run_jobs, case):
    sms_in(client, NATIONAL_DESK, f"DONE {case} 5")
    sms_in(client, NATIONAL_DESK, f"REOPEN {case}")
    assert _referral(rt, case).status == "acknowledged"


# --- DUTY, CASES, HELP ----------------------------------------------------------------------


def test_duty_off_and_on_change_who_gets_new_cases_first(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, "duty off")
    sms_in(client, OFF_DUTY, "DUTY ON")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        "Ijwi: you are off duty. New cases go first to officers on duty; you get them if nobody answers."
    ]
    assert sent_to(rt, OFF_DUTY) == [
        "Ijwi: vous voilà de service. Les nouveaux cas de votre district vous arrivent en premier."
    ]
    rt.sms.outbox.clear()
    jobs.route_report(make_report(rt, category="school")[0])
    run_jobs()
    alerted = {to for to, _ in rt.sms.outbox}
    assert OFF_DUTY in alerted and SOCIAL_WORKER not in alerted


def test_duty_without_on_or_off_gets_the_help_text(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, "DUTY maybe")
    assert _replies(rt, run_jobs, SOCIAL_WORKER)[0].startswith("Ijwi: OK <case> to take it")
    with rt.db.reading() as session:
        assert session.scalars(select(Officer.on_duty).where(Officer.phone == SOCIAL_WORKER)).one() is True


def test_cases_lists_the_senders_open_cases_with_their_age_in_one_sms(client, rt, run_jobs, case):
    sms_in(client, SOCIAL_WORKER, "CASES")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == ["Ijwi: you have no open cases."]
    made = [make_report(rt) for _ in range(20)]
    for report_id, _ in made:
        jobs.route_report(report_id)
    refs = [case] + [ref for _, ref in made]
    start = utcnow()
    for i, ref in enumerate(refs):
        sms_in(client, SOCIAL_WORKER, f"OK {ref}")
        with rt.db.transaction() as session:
            referral = session.scalars(select(Referral).where(Referral.reference == ref)).one()
            referral.acknowledged_at = start - timedelta(days=len(refs) - i, hours=1)
    sms_in(client, SOCIAL_WORKER, f"DONE {refs[1]} 1")
    run_jobs()
    rt.sms.outbox.clear()
    sms_in(client, SOCIAL_WORKER, "cases")
    [listing] = _replies(rt, run_jobs, SOCIAL_WORKER)
    assert listing.startswith(f"Ijwi: your open cases (20): {case} 21d, {refs[2]} 19d, ")
    assert len(listing) <= 160 and listing.endswith(" more") and refs[1] not in listing
    with rt.db.reading() as session:
        officer_id = session.scalars(select(Officer.id).where(Officer.phone == SOCIAL_WORKER)).one()
        actions = session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == f"officer:{officer_id}")).all()
    assert "CASES by SMS: 20" in actions


def test_help_lists_every_command_in_the_officers_language(client, rt, run_jobs, case):
    sms_in(client, PSYCHOLOGIST, "help")
    [help_text] = _replies(rt, run_jobs, PSYCHOLOGIST)
    for verb in ("OK", "DONE", "INFO", "REOPEN", "TRANSFER", "SAME/NOTSAME", "CASES", "DUTY ON/OFF"):
        assert verb in help_text
    assert help_text.startswith("Ijwi: OK <nimero> uyakire") and len(help_text) <= 160
