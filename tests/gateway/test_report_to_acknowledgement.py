"""End to end: a volunteer's USSD report, through the real RQ worker code and Africa's Talking's
SDK, to the officers' SMS alerts, an officer's "OK <ref>" and the referral acknowledged."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import select

from gateway.models import Event, Message, Officer, Referral
from tests.helpers import (
    AT_SMS_URL,
    PSYCHOLOGIST,
    SECTOR_CONTACT,
    SOCIAL_WORKER,
    VOLUNTEER_PHONE,
    Dial,
    at_answer,
    at_sample,
    reference_in,
    register_officers,
    register_volunteer,
)


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return replace(settings, sms_backend="africastalking")


def test_urgent_report_reaches_the_officers_and_an_ok_sms_acknowledges_it(client, rt, run_jobs):
    register_officers(rt)
    register_volunteer(rt)
    with responses.RequestsMock() as at:
        at.add(responses.POST, AT_SMS_URL, json=at_answer(SOCIAL_WORKER), status=201)

        dial = Dial(client, VOLUNTEER_PHONE)
        dial.send("1", "1", "1", "3", "1")  # report: violence, in danger now, 12-17, girl
        assert "1. My village (Ubumwe)" in dial.screen
        dial.send("1", "Beaten at home, see house 12*B")
        assert dial.screen.startswith("CON Send this report?")
        ref = reference_in(dial.send("1"))
        assert len(at.calls) == 0  # nothing is sent while the caller waits

        run_jobs()  # route_report, which sends the alerts itself
        posted = {parse_qs(c.request.body)["to"][0]: parse_qs(c.request.body) for c in at.calls}
        assert set(posted) == {SOCIAL_WORKER, PSYCHOLOGIST, SECTOR_CONTACT}
        alert = posted[SOCIAL_WORKER]
        assert alert["username"] == ["sandbox"] and alert["from"] == ["IJWI"]
        assert alert["message"] == [
            f"Ijwi URGENT case {ref}: Violence/abuse, girl aged 12-17, Ubumwe/Katabaro/Kimisagara. "
            f"IZU {VOLUNTEER_PHONE}. Reply OK {ref}"
        ]
        assert all("Beaten" not in form["message"][0] for form in posted.values())

        inbound = at_sample("sms_inbound")
        inbound.update({"from": SOCIAL_WORKER, "text": f"OK {ref}", "id": "ATXid_e2e_ok"})
        assert client.post("/sms/inbound", data=inbound).status_code == 200

        with rt.db.reading() as session:
            referral = session.scalar(select(Referral).where(Referral.reference == ref))
            officer = session.scalar(select(Officer).where(Officer.phone == SOCIAL_WORKER))
            assert referral.status == "acknowledged"
            assert referral.acknowledged_by_id == officer.id and referral.escalate_at is None
            timeline = session.scalars(select(Event.kind).where(Event.referral_id == referral.id)).all()
        assert timeline == ["created", "routed", "sent", "sent", "sent", "acknowledged"]

        run_jobs()  # the confirmation to the officer, and "taken" to the two others alerted
        after = {form["to"][0]: form["message"][0] for form in (parse_qs(c.request.body) for c in at.calls[3:])}
        assert len(at.calls) == 6
        assert after[SOCIAL_WORKER].startswith(f"Case {ref} is yours.")
        assert after[PSYCHOLOGIST] == f"Dosiye {ref} yakiriwe n'undi mukozi. Nta kindi musabwa."  # in their language
        assert set(after) == {SOCIAL_WORKER, PSYCHOLOGIST, SECTOR_CONTACT}

    with rt.db.reading() as session:
        statuses = session.scalars(select(Message.status)).all()
    assert statuses == ["sent"] * 6
    check = Dial(client, VOLUNTEER_PHONE)
    check.send("3")  # Check a report
    assert check.send(ref) == f"END Report {ref}: an officer is following it up."
