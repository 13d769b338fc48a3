"""Every flow in Kinyarwanda, English and French; a language chosen once is kept by phone
number; a volunteer's comes from the registry; a community reporter's phone keeps nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import CallerPreference, Message, Report, Volunteer
from tests.helpers import (
    COMMUNITY_PHONE,
    LANGUAGES,
    TREE,
    VOLUNTEER_PHONE,
    Dial,
    label,
    reference_in,
    register_volunteer,
    string,
    text,
)

OTHER_PHONE = "+250788765433"


def _choose_language(dial: Dial, lang: str, menu: str = "main_community") -> str:
    """Open "Language" (labelled in the current language) and choose lang."""
    current = next(code for code in LANGUAGES if dial.screen.startswith("CON " + text(menu, code)))
    dial.choose(label(menu, "3" if menu == "main_community" else "4", current))
    return dial.choose(label("language", lang, current))


def _pick(dial: Dial, name: str) -> None:
    """Page with 98 until name is listed, then choose it."""
    while not any(line.endswith(f". {name}") for line in dial.screen.splitlines()):
        assert "98. " in dial.screen, f"{name} is not listed:\n{dial.screen}"
        dial.send("98")
    dial.choose(name)


def _community_report(dial: Dial, lang: str, urgent: bool, callback: str = "no") -> str:
    """A whole community report, every option chosen by its label in lang; the END screen."""
    dial.choose(label("main_community", "1", lang))
    dial.choose(label("category", "labour", lang))
    dial.choose(label("danger", "yes" if urgent else "no", lang))
    dial.choose(label("age", "12-17", lang))
    dial.choose(label("sex", "girl", lang))
    for level, name in zip(
        ("choose_district", "choose_sector", "choose_cell", "choose_village"),
        ("Rusizi", "Nyakabuye", "Kamanu", "Site"),
        strict=True,
    ):
        assert dial.screen.startswith("CON " + string(level, lang))
        _pick(dial, name)
    assert dial.screen.startswith("CON " + text("details", lang))
    dial.send("Works at the mine*nights")
    dial.choose(label("callback", callback, lang))
    assert dial.screen.startswith("CON " + text("confirm", lang))
    assert label("category", "labour", lang) in dial.screen and "Site, Kamanu" in dial.screen
    return dial.choose(label("confirm", "1", lang))


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("urgent", [False, True], ids=["not urgent", "urgent"])
def test_community_report_in_each_language_ends_with_only_the_reference(client, rt, run_jobs, lang, urgent):
    dial = Dial(client, COMMUNITY_PHONE)
    assert dial.screen.startswith("CON " + text("main_community", "rw"))  # Kinyarwanda first
    assert _choose_language(dial, lang).startswith("CON " + text("main_community", lang))
    end = _community_report(dial, lang, urgent)

    reference = reference_in(end)
    send = TREE.nodes["confirm"].options[0]
    expected = (send.end_urgent if urgent else send.end)[lang].replace("{reference}", reference)
    assert end == "END " + expected  # nothing of the report: no category, place or words
    assert ("116" in end) is urgent
    run_jobs()
    with rt.db.reading() as session:
        report = session.scalar(select(Report))
        assert (report.reference, report.language, report.category, report.urgent) == (
            reference,
            lang,
            "labour",
            urgent,
        )
        assert not report.wants_sms and not report.callback_ok
        # No SMS to a community reporter: the phone may be shared.
        assert session.scalars(select(Message).where(Message.to == COMMUNITY_PHONE)).all() == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_language_chosen_once_is_kept_for_that_phone_only(client, rt, lang):
    _choose_language(Dial(client, COMMUNITY_PHONE), lang)
    assert Dial(client, COMMUNITY_PHONE).screen.startswith("CON " + text("main_community", lang))
    assert Dial(client, OTHER_PHONE).screen.startswith("CON " + text("main_community", "rw"))
    with rt.db.reading() as session:
        [preference] = session.scalars(select(CallerPreference)).all()
        assert preference.language == lang and COMMUNITY_PHONE not in preference.phone_hash


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_volunteer_speaks_the_registry_language_and_a_choice_updates_the_registry(client, rt, lang):
    register_volunteer(rt, language=lang)
    dial = Dial(client, VOLUNTEER_PHONE)
    assert dial.screen.startswith("CON " + text("main_volunteer", lang))
    assert label("main_volunteer", "2", lang) in dial.screen  # Record a home visit
    other = next(code for code in LANGUAGES if code != lang)
    assert _choose_language(dial, other, "main_volunteer").startswith("CON " + text("main_volunteer", other))
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON " + text("main_volunteer", other))
    with rt.db.reading() as session:
        assert session.scalar(select(Volunteer.language)) == other
        assert session.scalars(select(CallerPreference)).all() == []


def test_a_registry_import_sets_the_volunteer_language_again(client, rt):
    register_volunteer(rt, language="fr")
    _choose_language(Dial(client, VOLUNTEER_PHONE), "en", "main_volunteer")
    register_volunteer(rt, language="rw")  # the registry is where a volunteer's language comes from
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON " + text("main_volunteer", "rw"))


def test_a_community_caller_asked_for_a_callback_is_recorded_as_such(client, rt):
    dial = Dial(client, COMMUNITY_PHONE)
    _choose_language(dial, "en")
    _community_report(dial, "en", urgent=False, callback="yes")
    with rt.db.reading() as session:
        report = session.scalar(select(Report))
        assert report.callback_ok and rt.crypto.decrypt(report.reporter_phone_enc) == COMMUNITY_PHONE
