"""Check a report: one status line, more than "received" only for the filer or a volunteer
of the same village, and a mistyped reference refused by its check digit."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from gateway.models import Referral
from gateway.registry import imports
from menus.reference import check_digit
from tests.helpers import (
    COMMUNITY_PHONE,
    LANGUAGES,
    VOLUNTEER_PHONE,
    Dial,
    label,
    reference_in,
    register_volunteer,
    string,
    text,
)

NEIGHBOUR_PHONE = "+250788123458"
FAR_VOLUNTEER_PHONE = "+250788123459"
STRANGER_PHONE = "+250788555666"


def _community_report_in_ubumwe(client) -> str:  # type: ignore[no-untyped-def]
    """A community member reports a concern in Ubumwe (Katabaro, Kimisagara, Nyarugenge)."""
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("1", "2", "2", "2", "2")  # neglect, not urgent, 5-11, boy
    for name in ("Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe"):
        while f". {name}\n" not in dial.screen + "\n":
            assert "98. " in dial.screen, f"{name} not listed"
            dial.send("98")
        dial.send(next(line.split(".")[0] for line in dial.screen.splitlines() if line.endswith(f". {name}")))
    dial.send("1", "2", "1")  # no words, anonymous, send
    return reference_in(dial.screen)


def _check(client, phone: str, reference: str, lang: str = "rw", volunteer: bool = False) -> str:  # type: ignore[no-untyped-def]
    """Dial, choose "Check a report" by its label in lang, and type reference."""
    dial = Dial(client, phone)
    menu = "main_volunteer" if volunteer else "main_community"
    dial.choose(label(menu, "3" if volunteer else "2", lang))
    return dial.send(reference)


def _status(rt, reference: str, status: str) -> None:  # type: ignore[no-untyped-def]
    with rt.db.transaction() as session:
        session.execute(update(Referral).where(Referral.reference == reference).values(status=status))


def _line(key: str, lang: str, reference: str) -> str:
    return "END " + string(key, lang).replace("{reference}", reference)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_filer_follows_the_report_through_each_status_in_one_line(client, rt, run_jobs, lang):
    reference = _community_report_in_ubumwe(client)
    # The reporter chooses a language and keeps it on every dial.
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("3")
    dial.choose(label("language", lang, lang))
    assert _check(client, COMMUNITY_PHONE, reference, lang) == _line("status_received", lang, reference)
    run_jobs()
    assert _check(client, COMMUNITY_PHONE, reference, lang) == _line("status_received", lang, reference)
    for status in ("routed", "acknowledged", "closed"):
        _status(rt, reference, status)
        screen = _check(client, COMMUNITY_PHONE, reference, lang)
        assert screen == _line(f"status_{status}", lang, reference)
        assert "\n" not in screen


def test_only_the_filer_and_volunteers_of_the_village_see_more_than_received(client, rt, run_jobs):
    reference = _community_report_in_ubumwe(client)
    run_jobs()
    _status(rt, reference, "acknowledged")
    register_volunteer(rt, NEIGHBOUR_PHONE)  # Ubumwe, Katabaro: the same village
    imports.import_volunteers(
        rt,
        "name,phone,district,sector,cell,village,language\n"
        f"Far Volunteer,{FAR_VOLUNTEER_PHONE},Gasabo,Remera,Rukiri I,Amajyambere,en\n",
    )
    following = f"END Report {reference}: an officer is following it up."
    received = f"END Report {reference}: received."
    assert _check(client, COMMUNITY_PHONE, reference) == _line("status_acknowledged", "rw", reference)
    assert _check(client, NEIGHBOUR_PHONE, reference, "en", volunteer=True) == following
    assert _check(client, FAR_VOLUNTEER_PHONE, reference, "en", volunteer=True) == received
    stranger = Dial(client, STRANGER_PHONE)
    stranger.send("3", "2")  # English
    assert stranger.send("2", reference) == received


def test_a_volunteer_sees_the_follow_up_of_their_own_visit(client, rt, run_jobs):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    reference = reference_in(dial.send("2", "HH-3", "2", "1", "1", "1", "1", "1"))
    run_jobs()
    _status(rt, reference, "closed")
    assert (
        _check(client, VOLUNTEER_PHONE, reference, "en", volunteer=True)
        == f"END Report {reference}: the case is closed."
    )
    assert _check(client, STRANGER_PHONE, reference) == _line("status_received", "rw", reference)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_mistyped_reference_is_refused_and_asked_again(client, rt, lang):
    reference = _community_report_in_ubumwe(client)
    mistyped = reference[:3] + str((int(reference[3]) + 1) % 10) + reference[4:]
    swapped = reference[1] + reference[0] + reference[2:]
    register_volunteer(rt, language=lang)
    dial = Dial(client, VOLUNTEER_PHONE)
    asked = dial.choose(label("main_volunteer", "3", lang))
    assert asked.startswith("CON " + text("check_reference", lang))
    for typed in {mistyped, swapped} - {reference}:
        assert dial.send(typed) == f"CON {string('bad_reference', lang)}\n{asked[4:]}"
    assert dial.send(reference) == _line("status_received", lang, reference)


def test_a_well_formed_reference_nobody_has_is_not_found(client):
    unknown = "100000" + check_digit("100000")
    assert _check(client, STRANGER_PHONE, unknown) == _line("status_not_found", "rw", unknown)
