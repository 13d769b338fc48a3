"""Reports by SMS when USSD fails: a volunteer's keyword forms, a community member's free text,
posted to /sms/inbound exactly as Africa's Talking posts them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway import keys
from gateway.models import Event, Location, Referral, Report, Visit
from gateway.registry.imports import path_key
from gateway.sms import texts
from tests.helpers import (
    COMMUNITY_PHONE,
    GASABO_OFFICER,
    NATIONAL_DESK,
    PSYCHOLOGIST,
    SECTOR_CONTACT,
    SOCIAL_WORKER,
    VOLUNTEER_PHONE,
    Dial,
    reference_in,
    register_officers,
    register_volunteer,
    sent_to,
    sms_in,
)

# The keywords of the volunteer's card, by language.
REPORT = {"rw": "RAPORO", "en": "REPORT", "fr": "SIGNAL"}
VISIT = {"rw": "GUSURA", "en": "VISIT", "fr": "VISITE"}


@pytest.fixture
def volunteer(rt):  # type: ignore[no-untyped-def]
    register_officers(rt)
    register_volunteer(rt)


def _reports(rt) -> list[Report]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return list(session.scalars(select(Report).order_by(Report.id)))


def _referral(rt, reference: str) -> Referral:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Referral).where(Referral.reference == reference)).one()


# --- a volunteer's report ------------------------------------------------------------------


def test_a_volunteers_sms_report_is_routed_and_alerted_like_a_ussd_one(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1 Beaten at home, see house 12*B")
    run_jobs()
    [reply] = sent_to(rt, VOLUNTEER_PHONE)
    ref = reference_in(reply)
    assert reply == (
        f"Ijwi: report received, number {ref}. Thank you. An officer is alerted. "
        "If the child is in danger now, call 116."
    )
    [report] = _reports(rt)
    assert (report.channel, report.category, report.urgent, report.age_band, report.sex) == (
        "sms",
        "violence",
        True,
        "12-17",
        "girl",
    )
    assert rt.crypto.decrypt(report.details_enc) == "Beaten at home, see house 12*B"
    sms_alert = sent_to(rt, SOCIAL_WORKER)[0]
    assert {to for to, _ in rt.sms.outbox} == {VOLUNTEER_PHONE, SOCIAL_WORKER, PSYCHOLOGIST, SECTOR_CONTACT}
    assert "Beaten" not in " ".join(body for _, body in rt.sms.outbox)

    # The same answers by USSD make the same alert, but for the reference (and, the same child
    # of the same village soon after, a possible duplicate of the first).
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "1", "1", "3", "1", "1", "Beaten at home", "1")
    ussd_ref = reference_in(dial.screen)
    run_jobs()
    same = sms_alert.replace(ref, ussd_ref).replace(" Reply", f" Possibly the same as {ref}. Reply")
    assert sent_to(rt, SOCIAL_WORKER)[1] == same
    assert _referral(rt, ref).channel == "sms" and _referral(rt, ussd_ref).channel == "ussd"


@pytest.mark.parametrize("lang", ["rw", "en", "fr"])
def test_the_report_form_is_read_in_every_language_with_the_ussd_numbers(client, rt, run_jobs, volunteer, lang):
    sms_in(client, VOLUNTEER_PHONE, f"{REPORT[lang].lower()} 2,2,1,2")
    run_jobs()
    [report] = _reports(rt)
    assert (report.category, report.urgent, report.age_band, report.sex) == ("neglect", False, "under5", "boy")
    reply = sent_to(rt, VOLUNTEER_PHONE)[0]
    assert reply == texts.say("report_received", lang, ref=report.reference)


def _village(rt, *path: str) -> int:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Location.id).where(Location.path == path_key("Nyarugenge", *path))).one()


def test_a_village_named_after_the_at_sign_is_the_place_of_the_report(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "REPORT 3 2 4 3 @Isimbi left alone")
    # Ubumwe: four villages of the district have the name; the volunteer's own cell has one.
    sms_in(client, VOLUNTEER_PHONE, "REPORT 3 2 4 3 @ubumwe")
    sms_in(client, VOLUNTEER_PHONE, "REPORT 3 2 4 3 @kamuhoza/BUHORO")
    run_jobs()
    first, second, third = _reports(rt)
    assert first.location_id == _village(rt, "Kimisagara", "Kamuhoza", "Isimbi")
    assert rt.crypto.decrypt(first.details_enc) == "left alone"
    assert (second.location_id, second.details_enc) == (_village(rt, "Kimisagara", "Katabaro", "Ubumwe"), None)
    assert third.location_id == _village(rt, "Kimisagara", "Kamuhoza", "Buhoro")


def test_a_village_name_two_cells_of_the_sector_share_must_name_its_cell(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "REPORT 3 2 4 3 @Buhoro")
    run_jobs()
    assert _reports(rt) == []
    assert sent_to(rt, VOLUNTEER_PHONE) == [texts.say("form_village", "en")]


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("REPORT", "category"),
        ("REPORT 0 1 3 1", "category"),
        ("REPORT abc", "category"),
        ("REPORT 2", "urgent"),
        ("REPORT 2 3 3 1", "urgent"),
        ("REPORT 2 1", "age"),
        ("REPORT 2 1 5 1", "age"),
        ("REPORT 2 1 3", "sex"),
        ("REPORT 2 1 3 4 beaten", "sex"),
        ("REPORT 2 1 3 1 @Nowhere-at-all", "village"),
        ("REPORT 2 1 3 1 @", "village"),
        ("VISIT", "household"),
        ("VISIT 11211", "household"),
        ("VISIT H12", "domains"),
        ("VISIT H12 1121", "domains"),
        ("VISIT H12 1 1 3 1 1", "domains"),
        ("Hello, a child in our village needs help", "keyword"),
    ],
)
def test_every_malformed_form_is_answered_with_the_part_that_failed(client, rt, run_jobs, volunteer, text, part):
    sms_in(client, VOLUNTEER_PHONE, text)
    run_jobs()
    assert sent_to(rt, VOLUNTEER_PHONE) == [texts.say(f"form_{part}", "en", code="*801#")]
    assert _reports(rt) == []
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Visit.id))) == 0


def test_a_malformed_form_is_answered_in_the_language_of_its_keyword(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "SIGNAL 2 1 3 9")
    sms_in(client, VOLUNTEER_PHONE, "raporo 2 7")
    run_jobs()
    assert sent_to(rt, VOLUNTEER_PHONE) == [
        "Ijwi: le 4e chiffre (sexe) doit valoir 1 fille, 2 garcon ou 3 inconnu. Exemple: SIGNAL 2 1 3 1",
        "Ijwi: umubare wa 2 (umwana ari mu kaga ubu?) ugomba kuba 1 yego cyangwa 2 oya. Urugero: RAPORO 2 1 3 1",
    ]


def test_help_sends_the_card_in_two_sms(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "aide")
    run_jobs()
    card, numbers = sent_to(rt, VOLUNTEER_PHONE)
    assert card.startswith("Ijwi: pour signaler, envoyez SIGNAL et 4 chiffres comme au *801#")
    assert numbers.startswith("Quoi: 1 violence 2 négligence")


# --- a volunteer's home visit --------------------------------------------------------------


def test_a_home_visit_by_sms_with_a_concern_opens_a_follow_up_referral(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "VISIT hh-12 1 2 1 1 2")
    run_jobs()
    with rt.db.reading() as session:
        visit = session.scalars(select(Visit)).one()
        referral = session.scalars(select(Referral)).one()
    assert (visit.household_code, visit.concerns, visit.session_id.startswith("sms-")) == (
        "HH-12",
        ["health", "economy"],
        True,
    )
    assert (referral.visit_id, referral.category, referral.channel) == (visit.id, "placement", "visit")
    assert sent_to(rt, VOLUNTEER_PHONE) == [
        f"Ijwi: home visit recorded, number {visit.reference}. Thank you. An officer will follow up the concerns."
    ]
    assert len(sent_to(rt, SOCIAL_WORKER)) == 1


def test_a_home_visit_by_sms_without_concerns_is_recorded_and_routes_nothing(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "gusura H12 11111")
    run_jobs()
    with rt.db.reading() as session:
        visit = session.scalars(select(Visit)).one()
        assert session.scalar(select(func.count(Referral.id))) == 0
    assert visit.routed_at is not None
    assert sent_to(rt, VOLUNTEER_PHONE) == [f"Ijwi: gusura kwanditswe, nimero {visit.reference}. Murakoze."]


# --- resent and duplicated SMS --------------------------------------------------------------


def test_a_resent_sms_makes_one_report(client, rt, run_jobs, volunteer):
    for _ in range(3):
        sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1", sms_id="ATXid_resent")
    run_jobs()
    assert len(_reports(rt)) == 1 and len(sent_to(rt, VOLUNTEER_PHONE)) == 1


def test_the_same_text_again_from_the_same_phone_makes_no_second_report(client, rt, run_jobs, volunteer):
    sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1 beaten")
    sms_in(client, VOLUNTEER_PHONE, "report  1 1 3 1   BEATEN")  # another id: the phone sent it twice
    sms_in(client, COMMUNITY_PHONE, "A child is beaten next door")
    sms_in(client, COMMUNITY_PHONE, "A child is beaten next door")
    run_jobs()
    assert len(_reports(rt)) == 2
    assert len(sent_to(rt, VOLUNTEER_PHONE)) == 1 and len(sent_to(rt, COMMUNITY_PHONE)) == 1
    # For a while only: the key that remembers the text expires with SMS_DUPLICATE_WINDOW.
    [seen] = [k for k in rt.redis.scan_iter(f"{keys.PREFIX}:sms:text:*")][:1]
    assert 0 < rt.redis.ttl(seen) <= rt.settings.sms_duplicate_window
    sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1 beaten again")
    assert len(_reports(rt)) == 3


# --- a community member's SMS ----------------------------------------------------------------


def test_a_community_sms_becomes_a_report_for_triage_with_nothing_sensitive_sent_back(client, rt, run_jobs):
    register_officers(rt)
    text = "My neighbour's girl Aline is locked in the house every day, near the market"
    sms_in(client, COMMUNITY_PHONE, text)
    run_jobs()
    assert sent_to(rt, COMMUNITY_PHONE) == [
        "Ijwi: murakoze, ubutumwa bwanyu bwakiriwe. Niba umwana ari mu kaga ubu, hamagara 116."
    ]
    [report] = _reports(rt)
    assert (report.kind, report.channel, report.location_id, report.callback_ok) == ("triage", "sms", None, False)
    assert rt.crypto.decrypt(report.details_enc) == text
    referral = _referral(rt, report.reference)
    assert referral.district_id is None and referral.flagged
    [alert] = sent_to(rt, NATIONAL_DESK)
    assert alert == (
        f"Ijwi case {report.reference}: a community SMS to read and triage (place not given). "
        f"Read it in Ijwi. Reply OK {report.reference}"
    )
    sms_in(client, NATIONAL_DESK, f"INFO {report.reference}")
    run_jobs()
    assert sent_to(rt, NATIONAL_DESK)[-1] == (
        f"Case {report.reference} (URGENT): Other concern, child age unknown, place not given. Not yet acknowledged."
    )
    everything = " ".join(body for _, body in rt.sms.outbox)
    assert "Aline" not in everything and "locked" not in everything and "market" not in everything
    with rt.db.reading() as session:
        created = session.scalars(select(Event.detail).where(Event.kind == "created")).one()
    assert created == "a community SMS to triage"


def test_a_community_sms_naming_a_district_goes_to_that_districts_officers(client, rt, run_jobs):
    register_officers(rt)
    sms_in(client, COMMUNITY_PHONE, "Umwana arahohoterwa i GASABO, mumfashe")
    run_jobs()
    [report] = _reports(rt)
    [alert] = sent_to(rt, GASABO_OFFICER)
    assert f"({'Gasabo'})" in alert and "arahohoterwa" not in alert
    assert sent_to(rt, NATIONAL_DESK) == []
    assert _referral(rt, report.reference).district_id == report.location_id


def test_an_empty_community_sms_makes_nothing(client, rt, run_jobs):
    sms_in(client, COMMUNITY_PHONE, "   ")
    run_jobs()
    assert _reports(rt) == [] and rt.sms.outbox == []


def test_a_provider_id_of_the_longest_size_still_makes_one_report(client, rt, run_jobs, volunteer):
    long_id = "ATXid_" + "9" * 94
    sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1", sms_id=long_id)
    sms_in(client, VOLUNTEER_PHONE, "REPORT 1 1 3 1", sms_id=long_id)
    [report] = _reports(rt)
    assert report.session_id.startswith("sms-") and len(report.session_id) <= 100
