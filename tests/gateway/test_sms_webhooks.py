"""POST /sms/inbound (officers' commands) and POST /sms/delivery, as Africa's Talking sends them."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from gateway.models import Assignment, AuditEntry, Event, Message, ProviderCallback, Referral
from tests.helpers import (
    COMMUNITY_PHONE,
    GASABO_OFFICER,
    NATIONAL_DESK,
    OFF_DUTY,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    at_sample,
    make_report,
    register_officers,
)
from workers import jobs

_ids = itertools.count(1)


@pytest.fixture
def case(rt, run_jobs) -> str:  # type: ignore[no-untyped-def]
    """A routed referral in Nyarugenge whose alerts went out; its reference."""
    register_officers(rt)
    report_id, reference = make_report(rt, category="violence")
    jobs.route_report(report_id)
    run_jobs()
    rt.sms.outbox.clear()
    return reference


def _sms(client, phone: str, text: str, sms_id: str | None = None):  # type: ignore[no-untyped-def]
    form = at_sample("sms_inbound")
    form.update({"from": phone, "text": text, "id": sms_id or f"inbound-{next(_ids)}"})
    return client.post("/sms/inbound", data=form)


def _replies(rt, run_jobs, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The SMS that went out to phone once the queued jobs ran."""
    run_jobs()
    return [body for to, body in rt.sms.outbox if to == phone]


def _referral(rt, reference: str) -> Referral:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalar(select(Referral).where(Referral.reference == reference))


def _mistyped(reference: str) -> str:
    """reference with its last digit changed: the check digit refuses it."""
    return reference[:-1] + str((int(reference[-1]) + 1) % 10)


def _events(rt, reference: str) -> list[str]:  # type: ignore[no-untyped-def]
    referral = _referral(rt, reference)
    with rt.db.reading() as session:
        return list(session.scalars(select(Event.kind).where(Event.referral_id == referral.id).order_by(Event.id)))


# --- officers' commands -------------------------------------------------------------------


def test_ok_acknowledges_the_case_and_stops_its_escalation(client, rt, run_jobs, case):
    response = _sms(client, SOCIAL_WORKER, f"OK {case}")
    assert response.status_code == 200
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        f"Case {case} is yours. Thank you. When it is done, send DONE {case} <outcome 1-5> and a note if useful."
    ]
    referral = _referral(rt, case)
    assert referral.status == "acknowledged" and referral.acknowledged_at is not None
    assert referral.escalate_at is None
    with rt.db.reading() as session:
        event = session.scalars(select(Event).where(Event.kind == "acknowledged")).one()
        assert event.actor == f"officer:{referral.acknowledged_by_id}"


def test_ok_in_lower_case_without_a_space_is_understood(client, rt, run_jobs, case):
    _sms(client, PSYCHOLOGIST, f"  ok{case} ")
    assert _replies(rt, run_jobs, PSYCHOLOGIST) == [
        f"Dosiye {case} ni iyanyu. Murakoze. Nimurangiza, mwohereze DONE {case} <uko byarangiye 1-5> (n'ubutumwa)."
    ]
    assert _referral(rt, case).status == "acknowledged"


@pytest.mark.parametrize("verb", ["OK", "DONE", "INFO"])
def test_a_mistyped_reference_is_refused_and_changes_nothing(client, rt, run_jobs, case, verb):
    wrong = _mistyped(case)
    _sms(client, SOCIAL_WORKER, f"{verb} {wrong} child is safe now")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [f"{wrong} is not a case number. Check the digits and send again."]
    referral = _referral(rt, case)
    assert referral.status == "routed" and referral.escalate_at is not None and referral.close_note_enc is None
    assert _events(rt, case) == ["created", "routed", "sent", "sent"]
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == 0


@pytest.mark.parametrize("verb", ["OK", "DONE", "INFO"])
def test_a_well_formed_reference_of_no_case_is_refused(client, rt, run_jobs, case, verb):
    from menus.reference import new_reference

    other = new_reference()
    while other == case:
        other = new_reference()
    _sms(client, SOCIAL_WORKER, f"{verb} {other} note")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [f"No case has the number {other}."]
    assert _referral(rt, case).status == "routed"


def test_done_closes_the_case_with_its_outcome_and_keeps_the_note_encrypted(client, rt, run_jobs, case):
    _sms(client, SOCIAL_WORKER, f"DONE {case} 2 Visited, child referred to Isange")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [f"Case {case} is closed. Thank you."]
    referral = _referral(rt, case)
    assert referral.status == "closed" and referral.closed_at is not None and referral.escalate_at is None
    assert referral.outcome == "referred"
    assert rt.crypto.decrypt(referral.close_note_enc) == "Visited, child referred to Isange"
    assert b"Isange" not in referral.close_note_enc
    with rt.db.reading() as session:
        closed = session.scalars(select(Event).where(Event.kind == "closed")).one()
        assert "Isange" not in closed.detail

    _sms(client, SOCIAL_WORKER, f"DONE {case} other again")
    assert _replies(rt, run_jobs, SOCIAL_WORKER)[-1] == f"Case {case} was already closed."
    assert rt.crypto.decrypt(_referral(rt, case).close_note_enc) == "Visited, child referred to Isange"


@pytest.mark.parametrize("rest", ["", " Visited the family", " 6", " 0 seen"])
def test_done_without_a_known_outcome_asks_for_one(client, rt, run_jobs, case, rest):
    _sms(client, SOCIAL_WORKER, f"DONE {case}{rest}")
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        f"Say how case {case} ended: DONE {case} 1 family supported, 2 referred to services, 3 placed in care, "
        "4 unfounded, 5 other; a note may follow."
    ]
    assert _referral(rt, case).status == "routed"


def test_info_answers_a_one_sms_summary_and_is_audited(client, rt, run_jobs, case):
    _sms(client, SOCIAL_WORKER, f"INFO {case}")
    (reply,) = _replies(rt, run_jobs, SOCIAL_WORKER)
    assert reply == (
        f"Case {case} (not urgent): Violence/abuse, girl aged 12-17, Ubumwe/Katabaro/Kimisagara. Not yet acknowledged."
    )
    assert len(reply) <= 160
    referral = _referral(rt, case)
    with rt.db.reading() as session:
        audit = session.scalars(select(AuditEntry)).one()
        assert (audit.action, audit.referral_id) == ("read_referral_sms", referral.id)

    _sms(client, SOCIAL_WORKER, f"OK {case}")
    _sms(client, SOCIAL_WORKER, f"INFO {case}")
    assert "Acknowledged " in _replies(rt, run_jobs, SOCIAL_WORKER)[-1]


def test_the_other_officers_alerted_hear_the_case_is_taken(client, rt, run_jobs, case):
    _sms(client, SOCIAL_WORKER, f"OK {case}")
    run_jobs()
    # The psychologist got the same alert; the sender hears only their own reply.
    assert _replies(rt, run_jobs, PSYCHOLOGIST) == [f"Dosiye {case} yakiriwe n'undi mukozi. Nta kindi musabwa."]
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        f"Case {case} is yours. Thank you. When it is done, send DONE {case} <outcome 1-5> and a note if useful."
    ]
    # A second OK from anyone tells nobody again.
    rt.sms.outbox.clear()
    _sms(client, SOCIAL_WORKER, f"OK {case}")
    run_jobs()
    assert [to for to, _ in rt.sms.outbox] == [SOCIAL_WORKER]


def test_second_officer_is_told_the_case_is_taken(client, rt, run_jobs, case):
    _sms(client, SOCIAL_WORKER, f"OK {case}")
    _sms(client, OFF_DUTY, f"OK {case}")
    assert _replies(rt, run_jobs, OFF_DUTY) == [f"Le cas {case} est déjà pris en charge par un autre agent."]
    referral = _referral(rt, case)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Event.id)).where(Event.kind == "acknowledged")) == 1
    assert referral.status == "acknowledged"


def test_an_officer_of_another_district_may_not_act(client, rt, run_jobs, case):
    _sms(client, GASABO_OFFICER, f"OK {case}")
    assert _replies(rt, run_jobs, GASABO_OFFICER) == [f"Case {case} is not in your district. Nothing was changed."]
    assert _referral(rt, case).status == "routed"


def test_the_national_desk_may_act_on_any_case(client, rt, run_jobs, case):
    _sms(client, NATIONAL_DESK, f"OK {case}")
    assert _referral(rt, case).status == "acknowledged"


def test_a_phone_that_is_no_officers_may_not_act_on_a_case(client, rt, run_jobs, case):
    _sms(client, COMMUNITY_PHONE, f"OK {case}")
    # Its text is a community member's concern: acknowledged, never echoed, nothing done to the case.
    assert _replies(rt, run_jobs, COMMUNITY_PHONE) == [
        "Ijwi: murakoze, ubutumwa bwanyu bwakiriwe. Niba umwana ari mu kaga ubu, hamagara 116."
    ]
    assert _referral(rt, case).status == "routed"


@pytest.mark.parametrize("text", ["hello", "OK", "OK thanks", "YES 4830271", ""])
def test_anything_else_from_an_officer_gets_the_help_text(client, rt, run_jobs, case, text):
    assert _sms(client, SOCIAL_WORKER, text).status_code == 200
    assert _replies(rt, run_jobs, SOCIAL_WORKER) == [
        "Ijwi: OK <case> to take it, DONE <case> <1-5> to close, INFO <case>, REOPEN <case>, "
        "TRANSFER <case> <district>, SAME/NOTSAME <case>, CASES, DUTY ON/OFF"
    ]
    assert _referral(rt, case).status == "routed"


def test_a_resent_inbound_sms_is_handled_once(client, rt, run_jobs, case):
    for _ in range(3):
        assert _sms(client, SOCIAL_WORKER, f"INFO {case}", sms_id="ATXid_same").status_code == 200
    assert len(_replies(rt, run_jobs, SOCIAL_WORKER)) == 1
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == 1


def test_inbound_without_id_or_sender_is_a_400(client):
    assert _sms(client, SOCIAL_WORKER, "OK 4830271", sms_id=" ").status_code == 400
    response = client.post("/sms/inbound", data={"id": "x", "from": "not a phone", "text": "OK"})
    assert response.status_code == 400 and "from" in response.get_data(as_text=True)


def test_inbound_reply_is_queued_not_sent_in_the_request(client, rt, case):
    _sms(client, SOCIAL_WORKER, f"OK {case}")
    assert rt.sms.outbox == []
    with rt.db.reading() as session:
        reply = session.scalars(select(Message).where(Message.kind == "reply")).one()
        assert reply.status == "queued"
    # The reply, and the notice to the other officer alerted.
    assert rt.queue.count == 2


# --- delivery reports ---------------------------------------------------------------------


def _alert(rt, phone: str) -> Message:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Message).where(Message.to == phone, Message.kind == "alert")).one()


def _report(client, message: Message, status: str, reason: str = ""):  # type: ignore[no-untyped-def]
    form = at_sample("sms_delivery_failed" if reason else "sms_delivery_success")
    form.update(id=message.provider_message_id, status=status, phoneNumber=message.to, failureReason=reason)
    return client.post("/sms/delivery", data=form)


def test_delivery_report_marks_the_alert_delivered_once(client, rt, case):
    alert = _alert(rt, SOCIAL_WORKER)
    for _ in range(2):
        assert _report(client, alert, "Success").status_code == 200
    alert = _alert(rt, SOCIAL_WORKER)
    assert alert.status == "delivered" and alert.delivered_at is not None and alert.provider_status == "Success"
    assert _events(rt, case).count("delivered") == 1
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(ProviderCallback.id))) == 1


def test_in_flight_delivery_status_keeps_the_alert_sent(client, rt, case):
    alert = _alert(rt, SOCIAL_WORKER)
    _report(client, alert, "Buffered")
    assert (_alert(rt, SOCIAL_WORKER).status, _alert(rt, SOCIAL_WORKER).provider_status) == ("sent", "Buffered")
    _report(client, alert, "Success")
    assert _alert(rt, SOCIAL_WORKER).status == "delivered"


@pytest.mark.parametrize(
    "status,reason",
    [("Failed", "AbsentSubscriber"), ("Rejected", "UserInBlacklist"), ("Expired", ""), ("AbsentSubscriber", "")],
)
def test_final_delivery_failure_moves_the_alert_to_the_next_contact(client, rt, run_jobs, case, status, reason):
    alert = _alert(rt, SOCIAL_WORKER)
    for _ in range(2):  # resent by the provider: one failover
        assert _report(client, alert, status, reason).status_code == 200
    failed = _alert(rt, SOCIAL_WORKER)
    assert failed.status == "failed" and status in failed.error
    assert [to for to, _ in rt.sms.outbox] == []  # nothing sent in the request
    run_jobs()
    assert [to for to, _ in rt.sms.outbox] == [OFF_DUTY]
    assert rt.sms.outbox[0][1].startswith(f"Ijwi cas {case} (non urgent): Violence/abus")
    with rt.db.reading() as session:
        reasons = session.scalars(select(Assignment.reason).where(Assignment.reason.like("failover:%"))).all()
        assert reasons == [f"failover:{failed.id}"]
    assert _events(rt, case)[-3:] == ["failed", "routed", "sent"]


def test_failure_of_an_acknowledged_case_moves_nothing(client, rt, run_jobs, case):
    _sms(client, PSYCHOLOGIST, f"OK {case}")
    _report(client, _alert(rt, SOCIAL_WORKER), "Failed", "AbsentSubscriber")
    run_jobs()
    assert OFF_DUTY not in [to for to, _ in rt.sms.outbox]


def test_delivery_report_of_no_message_of_ours_is_accepted(client, rt):
    form = at_sample("sms_delivery_success")
    assert client.post("/sms/delivery", data=form).status_code == 200
    assert client.post("/sms/delivery", data={"status": "Success"}).status_code == 400


def test_both_sms_webhooks_need_the_token_when_one_is_set(app, app_with):
    protected_app = app_with(webhook_token="s3cret")
    client = protected_app.test_client()
    inbound = at_sample("sms_inbound")
    delivery = at_sample("sms_delivery_success")
    assert client.post("/sms/inbound", data=inbound).status_code == 403
    assert client.post("/sms/delivery?token=wrong", data=delivery).status_code == 403
    rt = protected_app.extensions["ijwi"]
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(ProviderCallback.id))) == 0
    assert client.post("/sms/inbound?token=s3cret", data=inbound).status_code == 200
    assert client.post("/sms/delivery?token=s3cret", data=delivery).status_code == 200
