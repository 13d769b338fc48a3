"""Possible duplicates: two reports of one village about a child of the same category, age band
and sex within DUPLICATE_WINDOW are linked; the second alert says so; officers confirm or undo it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Event, Referral, Report
from tests.helpers import (
    GASABO_OFFICER,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    make_report,
    register_officers,
    sent_to,
    sms_in,
)
from workers import jobs

PASSWORD = "correct horse battery"


@pytest.fixture
def pair(rt, run_jobs) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Two reports of Ubumwe about a girl of 12-17 in one category, an hour apart, routed."""
    register_officers(rt)
    first_id, first = make_report(rt, category="violence")
    second_id, second = make_report(rt, category="violence")
    with rt.db.transaction() as session:
        session.get_one(Report, first_id).created_at = utcnow() - timedelta(hours=1)
    jobs.route_report(first_id)
    jobs.route_report(second_id)
    run_jobs()
    return first, second


def _referral(rt, reference: str) -> Referral:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Referral).where(Referral.reference == reference)).one()


def _events(rt, reference: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    referral = _referral(rt, reference)
    with rt.db.reading() as session:
        rows = session.scalars(select(Event).where(Event.referral_id == referral.id).order_by(Event.id))
        return [(e.kind, e.detail) for e in rows if e.kind in ("linked", "confirmed", "unlinked")]


def test_the_second_report_is_linked_and_its_alert_says_possibly_the_same(rt, pair):
    first, second = pair
    assert _referral(rt, first).duplicate_of_id is None
    later = _referral(rt, second)
    assert later.duplicate_of_id == _referral(rt, first).id and not later.duplicate_confirmed
    first_alert, second_alert = sent_to(rt, SOCIAL_WORKER)
    assert "Possibly the same" not in first_alert
    assert f"Possibly the same as {first}. Reply OK {second}" in second_alert and len(second_alert) <= 160
    assert _events(rt, second) == [("linked", f"possibly the same as {first}")]
    assert _events(rt, first) == [("linked", f"{second} is possibly the same as this case")]


@pytest.mark.parametrize(
    "differs",
    [{"category": "neglect"}, {"place": ("Nyarugenge", "Kimisagara", "Katabaro", "Mpazi")}, {"hours_apart": 73}],
)
def test_reports_differing_in_place_category_or_time_are_not_linked(rt, differs):
    register_officers(rt)
    first_id, _ = make_report(rt, category="violence")
    hours = differs.pop("hours_apart", 1)
    with rt.db.transaction() as session:
        session.get_one(Report, first_id).created_at = utcnow() - timedelta(hours=hours)
    second_id, second = make_report(rt, **({"category": "violence"} | differs))
    jobs.route_report(first_id)
    jobs.route_report(second_id)
    assert _referral(rt, second).duplicate_of_id is None


def test_an_officer_confirms_the_link_by_sms(client, rt, run_jobs, pair):
    first, second = pair
    sms_in(client, SOCIAL_WORKER, f"SAME {second}")
    run_jobs()
    assert sent_to(rt, SOCIAL_WORKER)[-1] == f"Cases {second} and {first} are marked as the same child. Thank you."
    assert _referral(rt, second).duplicate_confirmed
    assert _events(rt, second)[-1] == ("confirmed", f"the same as {first}")


def test_an_officer_undoes_the_link_by_sms_and_a_case_without_one_is_refused(client, rt, run_jobs, pair):
    first, second = pair
    sms_in(client, PSYCHOLOGIST, f"NOTSAME {second}")
    sms_in(client, PSYCHOLOGIST, f"NOTSAME {second}")
    sms_in(client, PSYCHOLOGIST, f"SAME {first}")
    run_jobs()
    assert sent_to(rt, PSYCHOLOGIST)[-3:] == [
        f"Dosiye {second} ntikibarwa nk'iya {first}.",
        f"Dosiye {second} ntiyanditswe ko ishobora kuba indi dosiye.",
        f"Dosiye {first} ntiyanditswe ko ishobora kuba indi dosiye.",
    ]
    assert _referral(rt, second).duplicate_of_id is None
    assert _events(rt, second)[-1] == ("unlinked", f"not the same as {first}")


def test_an_officer_of_another_district_may_not_decide(client, rt, run_jobs, pair):
    _, second = pair
    sms_in(client, GASABO_OFFICER, f"NOTSAME {second}")
    run_jobs()
    assert sent_to(rt, GASABO_OFFICER) == [f"Case {second} is not in your district. Nothing was changed."]
    assert _referral(rt, second).duplicate_of_id is not None


def _token(runner, email: str, role: str, district: str | None = None) -> str:  # type: ignore[no-untyped-def]
    args = ["users", "create", email, "--role", role] + (["--district", district] if district else [])
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    issued = runner.invoke(args=["users", "token", email])
    assert issued.exit_code == 0, issued.output
    return str(issued.output.strip())


def test_the_api_shows_the_link_and_an_officer_confirms_or_undoes_it(client, rt, runner, pair):
    first, second = pair
    officer = {"Authorization": "Bearer " + _token(runner, "ines@example.org", "officer", "Nyarugenge")}
    viewer = {"Authorization": "Bearer " + _token(runner, "vic@example.org", "viewer")}
    case = client.get(f"/api/v1/referrals/{second}", headers=officer).get_json()
    assert case["possibly_same_as"] == {"reference": first, "confirmed": False}
    listed = client.get("/api/v1/referrals", headers=viewer).get_json()["items"]
    assert [c["possibly_same_as"] for c in listed] == [{"reference": first, "confirmed": False}, None]

    url = f"/api/v1/referrals/{second}/duplicate"
    assert client.post(url, json={"action": "confirm"}, headers=viewer).status_code == 403
    assert client.post(url, json={"action": "maybe"}, headers=officer).status_code == 400
    confirmed = client.post(url, json={"action": "confirm"}, headers=officer)
    assert confirmed.status_code == 200
    assert confirmed.get_json()["possibly_same_as"] == {"reference": first, "confirmed": True}
    assert client.post(url, json={"action": "undo"}, headers=officer).get_json()["possibly_same_as"] is None
    again = client.post(url, json={"action": "undo"}, headers=officer)
    assert again.status_code == 409 and again.get_json()["error"]
    assert _events(rt, second)[-2:] == [
        ("confirmed", f"the same as {first}"),
        ("unlinked", f"not the same as {first}"),
    ]
