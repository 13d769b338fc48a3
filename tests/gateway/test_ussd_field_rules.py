"""The field rules of the USSD webhook: replays, '*' in free text, bad input, odd requests."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from gateway import keys
from gateway.models import Report, UssdSessionEnd, Visit
from gateway.referrals import reports
from gateway.ussd import callers, notices
from tests.helpers import AT_FIXTURES, COMMUNITY_PHONE, TREE, VOLUNTEER_PHONE, Dial, register_volunteer
from workers import inbox

FIXTURES = AT_FIXTURES


def _post(client, **fields):  # type: ignore[no-untyped-def]
    form = {"sessionId": "ATUid_x", "serviceCode": "*801#", "phoneNumber": COMMUNITY_PHONE, "networkCode": "63510"}
    form.update(fields)
    return client.post("/ussd", data={k: v for k, v in form.items() if v is not None})


def _volunteer_report_until_confirm(dial: Dial) -> str:
    return dial.send("1", "1", "1", "3", "1", "1", "Beaten at home, see house 12*B")


def test_replayed_hops_get_the_same_reply_and_create_one_report(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    confirm = _volunteer_report_until_confirm(dial)
    # The network resends the previous hop: same screen, nothing changes.
    again = _post(client, sessionId=dial.session_id, phoneNumber=VOLUNTEER_PHONE, text="*".join(dial.inputs))
    assert again.get_data(as_text=True) == confirm
    end = dial.send("1")
    for _ in range(3):
        resent = _post(client, sessionId=dial.session_id, phoneNumber=VOLUNTEER_PHONE, text=dial.text)
        assert resent.get_data(as_text=True) == end
    # An older hop resent after the end still gets its own old reply.
    old = _post(client, sessionId=dial.session_id, phoneNumber=VOLUNTEER_PHONE, text="1")
    assert old.get_data(as_text=True).startswith("CON What is happening?")
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 1


def test_free_text_with_stars_is_kept_whole(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "2", "2", "4", "3", "1", "a*b**c * d")
    dial.send("1")
    with rt.db.reading() as session:
        report = session.scalar(select(Report))
        assert rt.crypto.decrypt(report.details_enc) == "a*b**c * d"


def test_fixture_session_from_africas_talking_is_answered_hop_by_hop(client, rt):
    register_volunteer(rt)
    hops = json.loads((FIXTURES / "ussd_session.json").read_text())["hops"]
    replies = [client.post("/ussd", data=hop).get_data(as_text=True) for hop in hops]
    assert all(r.startswith(("CON ", "END ")) for r in replies)
    assert replies[0].startswith("CON Ijwi - Child protection")


def test_invalid_choice_reprompts_the_same_screen(client):
    dial = Dial(client)
    dial.send("3", "2")  # English
    screen = dial.send("1", "7", "1")  # category 7, in danger
    assert screen.startswith("CON Age of the child?")
    wrong = dial.send("9")
    assert wrong.startswith("CON Invalid choice, try again.\nAge of the child?")
    assert dial.send("abc").startswith("CON Invalid choice")
    assert dial.send("2").startswith("CON Sex of the child?")


def test_back_main_menu_and_more(client):
    dial = Dial(client)
    dial.send("3", "2")
    first = dial.send("1")
    assert "98. More" in first and "9. Other" not in first
    second = dial.send("98")
    assert "9. Other" in second and "1. Violence" not in second
    assert dial.send("0") == first  # back a page
    assert dial.send("0").startswith("CON Ijwi - Child protection")  # back to the menu
    dial.send("1", "2")
    assert dial.screen.startswith("CON Is the child in danger")
    assert dial.send("00").startswith("CON Ijwi - Child protection")
    # 98 where there is no next page is just a wrong choice.
    dial.send("1", "1")
    assert dial.send("98").startswith("CON Invalid choice")


def test_unknown_session_starting_midway_gets_the_first_screen(client):
    response = _post(client, sessionId="ATUid_never_seen", text="1*2*3")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("CON Ijwi - Kurinda umwana")
    # And the session goes on from there.
    nxt = _post(client, sessionId="ATUid_never_seen", text="1*2*3*1")
    assert nxt.get_data(as_text=True).startswith("CON Ni iki kiri kuba?")


@pytest.mark.parametrize("missing", ["sessionId", "phoneNumber"])
def test_missing_field_gets_a_polite_end(client, missing):
    response = _post(client, **{missing: None}, text="")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("END ")


def test_bad_phone_number_gets_a_polite_end(client):
    body = _post(client, phoneNumber="not-a-phone", text="").get_data(as_text=True)
    assert body.startswith("END Sorry")


def test_a_hop_is_read_from_a_multipart_form_too_and_a_repeated_field_counts_once(client):
    form = {"sessionId": "ATUid_multi", "serviceCode": "*801#", "phoneNumber": COMMUNITY_PHONE, "text": ""}
    first = client.post("/ussd", data=form, content_type="multipart/form-data")
    assert first.get_data(as_text=True).startswith("CON Ijwi - Kurinda umwana")
    body = "sessionId=ATUid_multi&phoneNumber=%2B250788765432&text=3&text=1"
    again = client.post("/ussd", data=body, content_type="application/x-www-form-urlencoded")
    assert again.get_data(as_text=True).startswith("CON " + TREE.nodes["language"].text["rw"])


def test_a_ten_kilobyte_hop_is_answered_with_a_polite_end_and_stores_nothing(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "1", "2", "1", "2", "1")
    too_long = notices.notice("too_long")
    hop = _post(client, sessionId=dial.session_id, phoneNumber=VOLUNTEER_PHONE, text=dial.text + "*" + "x" * 10_000)
    assert hop.get_data(as_text=True) == too_long
    huge = _post(client, sessionId="ATUid_huge", text="9" * 10_000)
    assert huge.status_code == 200 and huge.get_data(as_text=True) == too_long
    assert not rt.redis.exists(keys.ussd_session("ATUid_huge"))
    # A long answer a phone can send is still taken, cut to the field's length.
    assert dial.send("x" * 300).startswith("CON Send this report?")
    dial.send("1")
    with rt.db.reading() as session:
        assert len(rt.crypto.decrypt(session.scalar(select(Report)).details_enc)) == 160


def test_a_body_over_the_request_cap_is_a_polite_end_on_ussd_and_413_elsewhere(client, rt):
    body = "sessionId=ATUid_big&phoneNumber=%2B250788765432&text=" + "1" * 20_000
    response = client.post("/ussd", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.get_data(as_text=True) == notices.notice("too_long")
    assert rt.redis.dbsize() == 0
    assert client.post("/sms/inbound", data={"id": "x", "text": "1" * 20_000}).status_code == 413
    assert client.post("/api/v1/referrals", data="x" * 20_000).status_code in (405, 413)


def test_non_ascii_input_is_handled(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    assert dial.send("١").startswith("CON Invalid choice")
    dial.send("0")
    dial.send("1", "1", "2", "1", "2", "1")
    assert dial.send("Umwana yakubiswe ê 🙁 ñ").startswith("CON Send this report?")
    assert dial.send("1").startswith("END Thank you")
    with rt.db.reading() as session:
        assert rt.crypto.decrypt(session.scalar(select(Report)).details_enc) == "Umwana yakubiswe ê 🙁 ñ"


def test_every_screen_of_a_session_fits_and_is_gsm7(client, rt):
    from menus.gsm import is_gsm7

    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    screens = [dial.screen]
    for answer in ["1", "98", "0", "1", "1", "1", "1", "2", "98", "1", "1", "1", "1", "1", "1", "x*y"]:
        screens.append(dial.send(answer))
    for screen in screens:
        assert len(screen) - 4 <= 182, screen
        assert is_gsm7(screen), screen


def test_failure_inside_a_hop_gets_a_polite_end_not_a_500(client, rt, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database down")

    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    _volunteer_report_until_confirm(dial)
    monkeypatch.setattr(reports, "submit_report", broken)
    end = dial.send("1")
    assert end.startswith("END Sorry, something went wrong")
    assert "116" in end


def test_session_end_notification_is_recorded_without_its_input(client, rt):
    form = json.loads((FIXTURES / "ussd_event_incomplete.json").read_text())
    response = client.post("/ussd/events", data=form)
    assert response.status_code == 200
    assert client.post("/ussd/events", data=form).status_code == 200  # resent: still one row
    with rt.db.reading() as session:
        rows = session.scalars(select(UssdSessionEnd)).all()
        assert [(r.status, r.error, r.hops) for r in rows] == [("Incomplete", "USER_TIMEOUT", 4)]
        assert rows[0].phone_hash == rt.crypto.lookup_hash("+250788123456")


def test_session_end_without_session_id_is_a_400(client):
    response = client.post("/ussd/events", data={"status": "Success"})
    assert response.status_code == 400


def test_a_session_stores_one_report_and_one_visit_even_when_the_store_is_asked_twice(client, rt):
    register_volunteer(rt)
    caller = callers.profile(rt, VOLUNTEER_PHONE)
    village = str(caller.village_id)
    answers = {"category": "neglect", "urgent": "no", "age_band": "5-11", "sex": "boy", "location": village}
    first = reports.submit_report(rt, "ATUid_twice", caller, answers, "en", "test")
    assert reports.submit_report(rt, "ATUid_twice", caller, answers, "en", "test") == first
    visit = {"household": "hh-12", "domain_health": "concern"}
    first_visit = reports.record_visit(rt, "ATUid_twice", caller, visit)
    assert reports.record_visit(rt, "ATUid_twice", caller, visit) == first_visit
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 1
        assert session.scalar(select(func.count(Visit.id))) == 1
        report_id = session.scalar(select(Report.id))
        visit_id = session.scalar(select(Visit.id))
    # Handed over for routing once each; a worker's inbox thread makes one routing job of each.
    assert rt.redis.lrange(keys.routing_inbox(), 0, -1) == [f"report:{report_id}", f"visit:{visit_id}"]
    assert inbox.move(rt) == 2 and len(rt.queue) == 2
