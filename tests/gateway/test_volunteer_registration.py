"""Volunteers who are not registered, or no longer active, are told what they can do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import Referral, Report, Visit, Volunteer
from tests.helpers import (
    COMMUNITY_PHONE,
    LANGUAGES,
    TREE,
    VOLUNTEER_PHONE,
    Dial,
    label,
    register_volunteer,
    string,
    text,
)


def _community_menu(lang: str) -> str:
    node = TREE.nodes["main_community"]
    return "\n".join([node.text[lang], *[f"{o.key}. {o.label[lang]}" for o in node.options]])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_deactivated_volunteer_is_told_politely_and_reports_as_a_community_member(client, rt, runner, run_jobs, lang):
    register_volunteer(rt, language=lang)
    result = runner.invoke(args=["volunteers", "deactivate", "0788 123 456"])
    assert result.exit_code == 0, result.output
    assert result.output == "+250*******456: deactivated\n"

    dial = Dial(client, VOLUNTEER_PHONE)
    assert dial.screen == f"CON {string('not_registered', lang)}\n{_community_menu(lang)}"
    assert len(dial.screen) - 4 <= 182
    assert label("main_volunteer", "2", lang) not in dial.screen  # no home visits any more
    dial.choose(label("main_community", "1", lang))
    dial.send("1", "2", "1", "1")  # violence, not urgent, under 5, girl
    for _ in range(4):
        dial.send("1")  # the first district, sector, cell, village: no "my village"
    dial.send("1")  # no words
    assert dial.screen.startswith("CON " + text("callback", lang))  # asked like any community member
    dial.send("1", "1")
    assert dial.screen.startswith("END ")
    run_jobs()
    with rt.db.reading() as session:
        report = session.scalar(select(Report))
        assert report.volunteer_id is None
        assert session.scalar(select(Referral.reporter_kind)) == "community"


def test_an_invalid_choice_after_the_notice_shows_the_plain_menu_again(client, rt, runner):
    register_volunteer(rt)
    runner.invoke(args=["volunteers", "deactivate", VOLUNTEER_PHONE])
    dial = Dial(client, VOLUNTEER_PHONE)
    assert dial.send("7") == f"CON {string('invalid', 'en')}\n{_community_menu('en')}"


def test_reactivating_gives_the_volunteer_menu_back(client, rt, runner):
    register_volunteer(rt)
    runner.invoke(args=["volunteers", "deactivate", VOLUNTEER_PHONE])
    assert runner.invoke(args=["volunteers", "deactivate", VOLUNTEER_PHONE]).output.endswith("deactivated already\n")
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON " + string("not_registered", "en"))
    result = runner.invoke(args=["volunteers", "activate", VOLUNTEER_PHONE])
    assert result.exit_code == 0 and result.output == "+250*******456: active\n"
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith(
        "CON Ijwi - Child protection\n1. Report a concern\n2. Record"
    )


def test_an_import_that_still_lists_a_deactivated_volunteer_keeps_them_inactive(client, rt, runner, tmp_path):
    register_volunteer(rt)
    runner.invoke(args=["volunteers", "deactivate", VOLUNTEER_PHONE])
    csv = tmp_path / "v.csv"
    csv.write_text(
        "name,phone,district,sector,cell,village,language\n"
        f"Test Volunteer,{VOLUNTEER_PHONE},Nyarugenge,Kimisagara,Katabaro,Ubumwe,fr\n"
    )
    result = runner.invoke(args=["volunteers", "import", str(csv)])
    assert result.exit_code == 0
    assert result.output == "volunteers: 0 added, 1 updated, 0 unchanged (1 deactivated, left inactive)\n"
    with rt.db.reading() as session:
        volunteer = session.scalar(select(Volunteer))
        assert (volunteer.active, volunteer.language) == (False, "fr")
    assert Dial(client, VOLUNTEER_PHONE).screen.startswith("CON " + string("not_registered", "fr"))


@pytest.mark.parametrize(
    ("phone", "message"),
    [("+250788999000", "no volunteer is registered with +250788999000"), ("12", "'12' is not a valid phone number")],
)
def test_deactivating_an_unknown_phone_fails_politely(runner, phone, message):
    result = runner.invoke(args=["volunteers", "deactivate", phone])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("lang", LANGUAGES)
def test_someone_unregistered_who_believes_they_are_a_volunteer_learns_what_to_do(client, rt, lang):
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("3")
    dial.choose(label("language", lang, "rw"))
    assert dial.screen == f"CON {_community_menu(lang)}"
    told = dial.choose(label("main_community", "4", lang))
    assert told.startswith("CON " + text("not_volunteer", lang) + "\n1. " + label("not_volunteer", "1", lang))
    assert len(told) - 4 <= 182
    assert dial.choose(label("not_volunteer", "1", lang)).startswith("CON " + text("category", lang))
    with rt.db.reading() as session:
        assert session.scalars(select(Visit)).all() == []
