"""Whole report sessions through /ussd, as Africa's Talking sends them."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models import Location, Referral, Report
from tests.helpers import COMMUNITY_PHONE, VOLUNTEER_PHONE, Dial, option, register_volunteer


def _pick(dial: Dial, name: str) -> str:
    """Page through a place list with 98 until name shows, then choose it."""
    for _ in range(10):
        try:
            return dial.send(option(dial.screen, name))
        except AssertionError:
            assert "98. " in dial.screen, f"{name} not found in the list:\n{dial.screen}"
            dial.send("98")
    raise AssertionError(f"{name} never showed")


def test_registered_volunteer_reports_from_my_village_and_referral_matches_end_screen(client, rt, run_jobs):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    assert dial.screen.startswith("CON Ijwi - Child protection\n1. Report a concern\n2. Record a home visit")
    assert "What is happening?" in dial.send("1")
    assert "in danger right now" in dial.send("1")  # violence or abuse
    assert "Age of the child" in dial.send("1")  # yes, urgent
    assert "Sex of the child" in dial.send("3")  # 12-17
    screen = dial.send("1")  # girl
    assert "1. My village (Ubumwe)" in screen
    assert "A few words" in dial.send("1")
    screen = dial.send("Beaten at home, see house 12*B")
    assert screen.startswith("CON Send this report?")
    assert "Violence or abuse" in screen and "Danger now: Yes" in screen and "Ubumwe, Katabaro" in screen
    end = dial.send("1")
    assert end.startswith("END Thank you. Report received. Reference: ")
    assert "116" in end
    reference = end.split("Reference: ")[1].split()[0]

    run_jobs()
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        assert referral is not None
        village = session.get(Location, referral.location_id)
        assert (village.name, village.level) == ("Ubumwe", "village")
        assert referral.category == "violence" and referral.urgent and referral.status in ("new", "routed")
        assert (referral.age_band, referral.sex, referral.reporter_kind) == ("12-17", "girl", "volunteer")
        report = session.scalar(select(Report).where(Report.reference == reference))
        assert rt.crypto.decrypt(report.details_enc) == "Beaten at home, see house 12*B"
        assert rt.crypto.decrypt(report.reporter_phone_enc) == VOLUNTEER_PHONE
        assert b"Beaten" not in report.details_enc


def test_community_caller_pages_through_districts_and_villages(client, rt, run_jobs):
    dial = Dial(client, COMMUNITY_PHONE)
    assert dial.screen.startswith("CON Ijwi - Kurinda umwana")  # Kinyarwanda first
    assert dial.send("3", "2").startswith("CON Ijwi - Child protection")  # Ururimi -> English
    assert "Record a home visit" not in dial.screen
    dial.send("1", "2", "2", "1", "2")  # neglect, not urgent, 5-11, boy
    assert dial.screen.startswith("CON Choose the district:")
    assert "98. More" in dial.screen
    assert dial.send("98").startswith("CON Choose the district:")
    _pick(dial, "Rusizi")
    assert dial.screen.startswith("CON Choose the sector:")
    _pick(dial, "Nyakabuye")
    assert dial.screen.startswith("CON Choose the cell:")
    _pick(dial, "Kamanu")
    assert dial.screen.startswith("CON Choose the village:")
    _pick(dial, "Site")
    assert "A few words" in dial.screen
    assert "call you back" in dial.send("1")  # skip the words
    screen = dial.send("2")  # stay anonymous
    assert "Neglect" in screen and "Site, Kamanu" in screen
    end = dial.send("1")
    assert end.startswith("END Thank you. Report received. Reference: ")
    reference = end.split("Reference: ")[1].strip()
    assert "116" not in end.replace(reference, "")  # no helpline line (the reference may hold 116)

    run_jobs()
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        place = session.get(Location, referral.location_id)
        district = session.get(Location, referral.district_id)
        assert (place.name, district.name) == ("Site", "Rusizi")
        assert referral.category == "neglect" and not referral.urgent
        assert referral.reporter_kind == "community"
        report = session.scalar(select(Report).where(Report.reference == reference))
        assert report.details_enc is None and report.callback_ok is False
