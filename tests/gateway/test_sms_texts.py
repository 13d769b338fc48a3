"""Every SMS the gateway writes fits one message of 160 GSM-7 characters, in every language."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.models import Location
from gateway.registry import imports
from gateway.sms import texts
from gateway.vocabulary import Category, CloseOutcome
from menus.gsm import is_gsm7

# Every category a referral can carry.
CATEGORIES = tuple(Category)
# Every placeholder of the SMS strings, at its longest.
LONGEST_VALUES = dict(
    ref="4830271",
    other="4830271",
    code="*801#",
    phone="+250788123456",
    date="20/11 09:31",
    district="Nyamasheke",
    days=999,
    count=99,
    cases="",
    new=999,
    open=9999,
    overdue=999,
    escalated=999,
    failed=999,
    place="Nyamasheke",
    same=" Possibly the same as 4830271.",
)

REFERENCE = "4830271"
VOLUNTEER = "+250788123456"
AGE_BANDS = ("under5", "5-11", "12-17", "unknown")
SEXES = ("girl", "boy", "unknown")


@pytest.fixture(scope="module")
def longest_place() -> str:
    """The longest village/cell/sector label of the shipped places (names cleaned as on import)."""
    data = json.loads(imports.SHIPPED_LOCATIONS.read_text(encoding="utf-8"))
    labels = (
        "/".join(imports.clean_name(n) for n in (village["name"], cell["name"], sector["name"]))
        for province in data["provinces"]
        for district in province["districts"]
        for sector in district["sectors"]
        for cell in sector["cells"]
        for village in cell["villages"]
    )
    return max(labels, key=len)


def test_longest_place_is_labelled_as_routing_labels_it(rt, longest_place):
    with rt.db.reading() as session:
        villages = session.scalars(select(Location.id).where(Location.level == "village")).all()
    assert longest_place == max((rt.places.path_label(v) for v in villages), key=len)


def test_longest_place_of_the_shipped_data_is_the_one_tested(longest_place):
    assert longest_place.count("/") == 2 and len(longest_place) >= 40


@pytest.mark.parametrize("lang", texts.LANGUAGES)
@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("unanswered", [False, True], ids=["first", "escalated"])
def test_alert_of_every_category_fits_one_sms_even_at_the_longest_place(longest_place, lang, category, unanswered):
    opening = texts.say("unanswered", lang) + " " if unanswered else "Ijwi "
    for urgent in (True, False):
        for age_band in AGE_BANDS:
            for sex in SEXES:
                text = texts.alert(
                    lang,
                    reference=REFERENCE,
                    urgent=urgent,
                    category_key=category,
                    age_band=age_band,
                    sex=sex,
                    place=longest_place,
                    volunteer_phone=VOLUNTEER,
                    unanswered=unanswered,
                )
                assert len(text) <= 160 and is_gsm7(text), text
                starts = opening if text.startswith(opening) else "Ijwi "
                # Only where the longest village's name leaves no room for the word does it go.
                assert starts == opening or (lang == "rw" and text.startswith(starts)), text
                assert text.endswith(f"OK {REFERENCE}") and f" {REFERENCE}" in text[len(starts) :].split(":")[0]
                assert VOLUNTEER in text
                assert longest_place.split("/")[0] in text  # the village, at least, is named
                assert texts.CATEGORIES[lang][category] in text


@pytest.mark.parametrize("lang", texts.LANGUAGES)
def test_alert_keeps_a_usual_place_whole(lang):
    text = texts.alert(
        lang,
        reference=REFERENCE,
        urgent=True,
        category_key="marriage",
        age_band="12-17",
        sex="girl",
        place="Ubumwe/Katabaro/Kimisagara",
        volunteer_phone=VOLUNTEER,
    )
    assert "Ubumwe/Katabaro/Kimisagara." in text


def test_place_names_outside_gsm7_are_made_safe():
    text = texts.alert(
        "en", reference=REFERENCE, urgent=False, category_key="other", age_band="5-11", sex="boy", place="Kîgâli/Cêll"
    )
    assert is_gsm7(text) and "Kigali/Cell" in text


@pytest.mark.parametrize("lang", texts.LANGUAGES)
@pytest.mark.parametrize("status", ["routed", "acknowledged", "closed"])
def test_info_summary_fits_one_sms(longest_place, lang, status):
    for category in CATEGORIES:
        text = texts.info(
            lang,
            reference=REFERENCE,
            urgent=False,
            category_key=category,
            age_band="under5",
            sex="unknown",
            place=longest_place,
            status=status,
            since=datetime(2026, 11, 20, 7, 31, tzinfo=UTC),
        )
        assert len(text) <= 160 and is_gsm7(text), text
    if status == "acknowledged" and lang == "en":
        assert text.endswith("Acknowledged 20/11 09:31.")  # Rwanda's time


def test_every_string_exists_in_every_language_and_fits_one_sms():
    assert texts.NEEDS_REVIEW == ("rw",)  # Kinyarwanda awaits a native speaker's review
    composed = {"alert_urgent", "alert_normal", "info"}  # checked whole above (and in test_sms_cases)
    for key, by_language in texts.STRINGS.items():
        assert set(by_language) == set(texts.LANGUAGES), key
        for lang in texts.LANGUAGES:
            if key in composed:
                continue
            text = texts.say(key, lang, **LONGEST_VALUES)
            assert len(text) <= 160 and is_gsm7(text), (key, lang, text)
    for table in (texts.CATEGORIES, texts.SEXES, texts.AGE_BANDS):
        assert set(table) == set(texts.LANGUAGES)
        assert all(set(table[lang]) == set(table["en"]) for lang in texts.LANGUAGES)
    assert set(texts.CATEGORIES["en"]) == set(CATEGORIES)


@pytest.mark.parametrize("lang", texts.LANGUAGES)
@pytest.mark.parametrize("unanswered", [False, True])
def test_alert_of_a_possible_duplicate_fits_one_sms_and_names_the_earlier_case(longest_place, lang, unanswered):
    for category in CATEGORIES:
        for urgent in (False, True):
            text = texts.alert(
                lang,
                reference=REFERENCE,
                urgent=urgent,
                category_key=category,
                age_band="unknown",
                sex="unknown",
                place=longest_place,
                volunteer_phone=VOLUNTEER,
                unanswered=unanswered,
                same_as="1234567",
            )
            assert len(text) <= 160 and is_gsm7(text), text
            assert "1234567" in text and text.endswith(REFERENCE)


@pytest.mark.parametrize("lang", texts.LANGUAGES)
@pytest.mark.parametrize("district", [None, "Nyamasheke"])
def test_triage_alert_fits_one_sms_in_every_language(lang, district):
    for unanswered in (False, True):
        text = texts.triage_alert(
            lang, reference=REFERENCE, district=district, unanswered=unanswered, same_as="1234567"
        )
        assert len(text) <= 160 and is_gsm7(text), text
        assert text.endswith(f"OK {REFERENCE}")


def test_every_outcome_has_a_number_and_words():
    assert [texts.outcome(str(n)) for n in range(1, 6)] == list(CloseOutcome)
    assert set(texts.OUTCOME_WORDS) == set(CloseOutcome)
    assert texts.outcome("0") is None and texts.outcome("maybe") is None
