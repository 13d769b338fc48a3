"""A dropped report is offered again to the same phone within RESUME_WINDOW, then never."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from gateway import keys
from gateway.models import Message, Report, UssdSessionEnd
from gateway.ussd import callers
from tests.helpers import (
    AT_FIXTURES,
    COMMUNITY_PHONE,
    LANGUAGES,
    VOLUNTEER_PHONE,
    Dial,
    end_session,
    label,
    reference_in,
    register_volunteer,
    string,
    text,
)


def _resume_screen(lang: str) -> str:
    return f"CON {string('resume', lang)}\n1. {string('resume_yes', lang)}\n2. {string('resume_restart', lang)}"


def _draft_key(rt, phone: str) -> str:  # type: ignore[no-untyped-def]
    return keys.draft(rt.crypto.lookup_hash(phone))


def _reports(rt) -> list[Report]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return list(session.scalars(select(Report)).all())


def _messages(rt) -> list[Message]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return list(session.scalars(select(Message)).all())


def _to_age_question(dial: Dial, lang: str) -> str:
    """Report a concern, as the shared sample's dropped session: violence, in danger."""
    dial.choose(label("main_volunteer", "1", lang))
    dial.choose(label("category", "violence", lang))
    return dial.choose(label("danger", "yes", lang))


def test_the_shared_incomplete_sample_drops_at_the_age_question():
    """Our walk stops where the sample's session stopped, so the sample's shape is the test's."""
    sample = json.loads((AT_FIXTURES / "ussd_event_incomplete.json").read_text())
    assert (sample["status"], sample["input"], sample["phoneNumber"]) == ("Incomplete", "1*1*1", VOLUNTEER_PHONE)
    assert sample["lastAppResponse"].startswith("CON " + text("age", "en"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_volunteer_cut_off_mid_report_dials_again_and_finishes_the_same_report(client, rt, run_jobs, lang):
    register_volunteer(rt, language=lang)
    first = Dial(client, VOLUNTEER_PHONE)
    stopped_at = _to_age_question(first, lang)
    assert first.inputs == ["1", "1", "1"]
    end_session(client, first)

    second = Dial(client, VOLUNTEER_PHONE)
    assert second.screen == _resume_screen(lang)
    assert second.choose(string("resume_yes", lang)) == stopped_at
    second.choose(label("age", "12-17", lang))
    second.choose(label("sex", "girl", lang))
    second.send("1")  # my village
    second.send("1")  # no words
    end = second.send("1")  # send
    assert end.startswith("END ") and "116" in end

    [report] = _reports(rt)
    assert report.reference == reference_in(end) and report.session_id == second.session_id
    assert (report.category, report.urgent, report.age_band, report.sex) == ("violence", True, "12-17", "girl")
    assert report.language == lang
    assert not rt.redis.exists(_draft_key(rt, VOLUNTEER_PHONE))
    # Dialling once more starts afresh.
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON " + text("main_volunteer", lang))


def test_community_caller_picks_up_inside_the_place_list(client, rt):
    first = Dial(client, COMMUNITY_PHONE)
    first.send("3", "3")  # Français
    first.send("1", "5", "2", "1", "3")  # abandoned, not in danger, under 5, unknown sex
    first_page = first.screen
    stopped_at = first.send("98")  # the second page of districts
    assert stopped_at.startswith("CON Choisissez le district:") and stopped_at != first_page
    end_session(client, first, status="Failed", error="")

    second = Dial(client, COMMUNITY_PHONE)
    assert second.screen == _resume_screen("fr")
    assert second.send("1") == stopped_at
    assert second.send("0") == first_page
    assert second.send("0").startswith("CON " + text("sex", "fr"))  # back still works: the trail came along


def test_start_again_forgets_the_draft(client, rt):
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    _to_age_question(first, "en")
    end_session(client, first)
    second = Dial(client, VOLUNTEER_PHONE)
    assert second.send("2").startswith("CON Ijwi - Child protection\n1. Report a concern")
    assert not rt.redis.exists(_draft_key(rt, VOLUNTEER_PHONE))
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON Ijwi - Child protection")


def test_a_session_that_never_started_a_report_offers_nothing(client, rt):
    first = Dial(client, COMMUNITY_PHONE)
    first.send("3")  # the language menu, then cut off
    end_session(client, first)
    first = Dial(client, COMMUNITY_PHONE)
    first.send("1", "1", "0", "0")  # into a report and back out to the menu
    end_session(client, first)
    assert Dial(client, COMMUNITY_PHONE).screen.startswith("CON Ijwi - Kurinda umwana")


def test_a_late_notification_of_an_old_session_leaves_the_newer_draft_alone(app, app_with):
    enabled = app_with(resume_sms_volunteers=True)
    rt, client = enabled.extensions["ijwi"], enabled.test_client()
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    _to_age_question(first, "en")
    second = Dial(client, VOLUNTEER_PHONE)  # no notification yet: the network is slow
    second.send("1")
    stopped_at = second.send("2")  # 5-11: now at the sex question
    end_session(client, first)  # the first session's notice arrives late: the caller is back already
    assert _messages(rt) == []
    end_session(client, second)
    assert len(_messages(rt)) == 1
    third = Dial(client, VOLUNTEER_PHONE)
    assert third.send("1") == stopped_at


def test_the_draft_is_encrypted_and_the_ended_session_forgotten(client, rt):
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("1", "1", "2", "3", "1")
    for _ in range(4):
        dial.send("1")  # the first district, sector, cell, village
    dial.send("Uncle hits her*often")
    assert rt.redis.exists(keys.ussd_session(dial.session_id))
    end_session(client, dial, error="USER_CANCELLED")  # the phone's own cancel key
    raw = rt.redis.get(_draft_key(rt, COMMUNITY_PHONE))
    assert raw and "Uncle" not in raw and "hits" not in raw
    assert rt.redis.ttl(_draft_key(rt, COMMUNITY_PHONE)) <= rt.settings.resume_window
    assert not rt.redis.exists(keys.ussd_session(dial.session_id))
    assert _reports(rt) == []


def test_an_unreadable_draft_does_not_stand_in_the_way(client, rt):
    rt.redis.set(_draft_key(rt, COMMUNITY_PHONE), "not a draft", ex=60)
    assert Dial(client, COMMUNITY_PHONE).screen.startswith("CON Ijwi - Kurinda umwana")
    assert not rt.redis.exists(_draft_key(rt, COMMUNITY_PHONE))


def test_a_volunteer_deactivated_since_the_drop_is_not_offered_the_visit(client, rt):
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    first.send("2", "HH-1", "1")  # a home visit under way
    end_session(client, first)
    callers.set_active(rt, VOLUNTEER_PHONE, False)
    screen = Dial(client, VOLUNTEER_PHONE).screen
    assert screen.startswith("CON " + string("not_registered", "en") + "\nIjwi - Child protection")
    assert not rt.redis.exists(_draft_key(rt, VOLUNTEER_PHONE))


def test_by_default_nobody_gets_an_sms_about_a_dropped_report(client, rt):
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    _to_age_question(first, "en")
    end_session(client, first)
    community = Dial(client, COMMUNITY_PHONE)
    community.send("1", "1")
    end_session(client, community)
    assert _messages(rt) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_when_enabled_a_volunteer_gets_one_sms_saying_how_to_continue(app, app_with, lang):
    enabled = app_with(resume_sms_volunteers=True)
    rt, client = enabled.extensions["ijwi"], enabled.test_client()
    register_volunteer(rt, language=lang)
    first = Dial(client, VOLUNTEER_PHONE)
    _to_age_question(first, lang)
    end_session(client, first)
    end_session(client, first)  # resent: still one SMS
    community = Dial(client, COMMUNITY_PHONE)
    community.send("1", "1")
    end_session(client, community)  # a shared phone: never

    [message] = _messages(rt)
    assert (message.kind, message.to, message.status) == ("notice", VOLUNTEER_PHONE, "queued")
    assert message.body == string("resume_sms", lang).replace("{code}", "*801#").replace("{minutes}", "15")
    with rt.db.reading() as session:
        assert len(session.scalars(select(UssdSessionEnd)).all()) == 2


def test_a_finished_session_ending_sends_nothing_and_keeps_nothing(app, app_with):
    enabled = app_with(resume_sms_volunteers=True)
    rt, client = enabled.extensions["ijwi"], enabled.test_client()
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "1", "1", "1", "1", "1", "1", "1")
    assert dial.screen.startswith("END ")
    end_session(client, dial, status="Success", error="")
    assert _messages(rt) == []
    assert rt.redis.keys(f"{keys.PREFIX}:ussd:*") == [] and rt.redis.keys(f"{keys.PREFIX}:draft:*") == []


@pytest.mark.parametrize("notified", [True, False], ids=["after a notification", "session just expired"])
def test_after_the_resume_window_a_new_report_starts(app, app_with, notified):
    short = app_with(resume_window=1)
    rt, client = short.extensions["ijwi"], short.test_client()
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    _to_age_question(first, "en")
    if notified:
        end_session(client, first)
    assert rt.redis.ttl(_draft_key(rt, VOLUNTEER_PHONE)) == 1
    time.sleep(1.2)  # Redis itself expires the draft

    assert rt.redis.keys(f"{keys.PREFIX}:draft:*") == []
    second = Dial(client, VOLUNTEER_PHONE)
    assert second.screen.startswith("CON Ijwi - Child protection\n1. Report a concern")
    second.send("1", "2", "2", "1", "2", "1", "1", "1")  # neglect, not urgent, under 5, boy
    assert second.screen.startswith("END Thank you. Report received.")
    [report] = _reports(rt)
    assert (report.category, report.urgent, report.session_id) == ("neglect", False, second.session_id)


def test_a_resume_window_of_zero_keeps_no_draft(app, app_with):
    off = app_with(resume_window=0)
    rt, client = off.extensions["ijwi"], off.test_client()
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("1", "1", "1")
    end_session(client, dial)
    assert rt.redis.keys(f"{keys.PREFIX}:draft:*") == []
    assert Dial(client, COMMUNITY_PHONE).screen.startswith("CON Ijwi - Kurinda umwana")


def test_a_draft_written_before_drafts_were_sealed_is_still_offered(client, rt):
    register_volunteer(rt)
    first = Dial(client, VOLUNTEER_PHONE)
    stopped_at = _to_age_question(first, "en")
    end_session(client, first)
    key = _draft_key(rt, VOLUNTEER_PHONE)
    rt.redis.set(key, rt.crypto.encrypt(rt.crypto.unseal(rt.redis.get(key))), ex=60)  # as Fernet wrote it
    second = Dial(client, VOLUNTEER_PHONE)
    assert second.screen == _resume_screen("en")
    assert second.send("1") == stopped_at


def test_a_hop_whose_session_state_is_gone_starts_over_and_offers_the_draft(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    stopped_at = _to_age_question(dial, "en")
    rt.redis.delete(keys.ussd_session(dial.session_id))  # expired while the caller was typing
    assert dial.send("3") == _resume_screen("en")
    assert dial.send("1") == stopped_at
