"""Home visits: recorded by registered volunteers, followed up when a domain is of concern,
and counted per volunteer, village and month."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.models import Event, Location, Referral, Visit, Volunteer
from gateway.referrals import visits
from gateway.referrals.visits import VisitCount
from gateway.registry import imports
from tests.helpers import LANGUAGES, TREE, VOLUNTEER_PHONE, Dial, label, reference_in, register_volunteer, text

OTHER_VOLUNTEER = "+250788123457"
DOMAIN_NODES = ("visit_living", "visit_health", "visit_education", "visit_relationships", "visit_economy")


def _visit(client, lang: str, household: str, concerns: set[str], phone: str = VOLUNTEER_PHONE) -> str:  # type: ignore[no-untyped-def]
    """Record a home visit through the menu, by the labels of lang; the END screen."""
    dial = Dial(client, phone)
    assert dial.choose(label("main_volunteer", "2", lang)).startswith("CON " + text("visit_household", lang))
    dial.send(household)
    for node in DOMAIN_NODES:
        assert dial.screen.startswith("CON ") and text(node, lang) in dial.screen
        dial.choose(label(node, "concern" if node.removeprefix("visit_") in concerns else "ok", lang))
    assert dial.screen.startswith("CON " + text("visit_confirm", lang))
    return dial.choose(label("visit_confirm", "1", lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_visit_with_two_concerns_opens_a_low_urgency_follow_up_and_is_counted(client, rt, run_jobs, lang):
    register_volunteer(rt, language=lang)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.choose(label("main_volunteer", "2", lang))
    dial.send("hh-07")
    for node, answer in zip(DOMAIN_NODES, ["ok", "concern", "ok", "ok", "concern"], strict=True):
        assert text(node, lang) in dial.screen
        dial.choose(label(node, answer, lang))
    summary = TREE.nodes["visit_confirm"].text[lang].replace("{household}", "hh-07").replace("{count:concern}", "2")
    assert dial.screen.startswith("CON " + summary)
    end = dial.choose(label("visit_confirm", "1", lang))
    reference = reference_in(end)
    assert end == "END " + TREE.nodes["visit_confirm"].options[0].end[lang].replace("{reference}", reference)

    run_jobs()
    with rt.db.reading() as session:
        visit = session.scalar(select(Visit))
        assert (visit.reference, visit.household_code, visit.concerns) == (reference, "HH-07", ["health", "economy"])
        referral = session.scalar(select(Referral).where(Referral.visit_id == visit.id))
        assert referral is not None and referral.reference == reference
        assert (referral.urgent, referral.status, referral.channel) == (False, "new", "visit")
        assert referral.domains == ["health", "economy"]
        assert session.get(Location, referral.district_id).name == "Nyarugenge"
        assert session.get(Location, referral.location_id).name == "Ubumwe"
        created = session.scalars(select(Event).where(Event.referral_id == referral.id, Event.kind == "created")).one()
        assert created.detail == "home visit concerns: health, economy"
        month = visits.month_of(visit.created_at)
    assert visits.summary(rt, month) == [
        VisitCount(month, "Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe", "Test Volunteer", 1, 1, 1)
    ]


def test_a_visit_with_no_concern_opens_no_referral(client, rt, run_jobs):
    register_volunteer(rt)
    end = _visit(client, "en", "HH-1", set())
    assert end.startswith("END Visit saved. Reference: ")
    run_jobs()
    with rt.db.reading() as session:
        assert session.scalar(select(Visit)).concerns == []
        assert session.scalars(select(Referral)).all() == []


def test_a_cancelled_visit_saves_nothing(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("2", "HH-1", "1", "1", "1", "1", "1")
    assert dial.send("2") == "END Nothing was saved."
    with rt.db.reading() as session:
        assert session.scalars(select(Visit)).all() == []


def _register(rt, phone: str, district: str, sector: str, cell: str, village: str, name: str) -> None:  # type: ignore[no-untyped-def]
    imports.import_volunteers(
        rt,
        f"name,phone,district,sector,cell,village,language\n{name},{phone},{district},{sector},{cell},{village},en\n",
    )


def _backdate(rt, when: datetime, household: str) -> None:  # type: ignore[no-untyped-def]
    """A visit recorded at when (UTC), as if months ago."""
    with rt.db.transaction() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == VOLUNTEER_PHONE))
        session.add(
            Visit(
                session_id=f"old-{household}",
                reference=household,
                volunteer_id=volunteer.id,
                village_id=volunteer.village_id,
                household_code=household,
                concerns=[],
                created_at=when,
                routed_at=when,
            )
        )


def test_visits_are_counted_per_volunteer_village_and_month(client, rt, runner):
    register_volunteer(rt)
    _register(rt, OTHER_VOLUNTEER, "Gasabo", "Remera", "Rukiri I", "Amajyambere", "Other Volunteer")
    _visit(client, "en", "HH-1", {"health"})
    _visit(client, "en", "HH-1", set())  # the same family again
    _visit(client, "en", "HH-2", set())
    _visit(client, "en", "GA-9", {"living", "education"}, phone=OTHER_VOLUNTEER)
    # No worker has run: the figures come from the visits themselves.
    with rt.db.reading() as session:
        month = visits.month_of(session.scalar(select(Visit.created_at)))

    assert visits.summary(rt, month) == [
        VisitCount(month, "Gasabo", "Remera", "Rukiri I", "Amajyambere", "Other Volunteer", 1, 1, 1),
        VisitCount(month, "Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe", "Test Volunteer", 3, 2, 1),
    ]
    assert [c.volunteer for c in visits.summary(rt, month, district="NYARUGENGE")] == ["Test Volunteer"]

    result = runner.invoke(args=["visits", "summary", "--month", month])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Home visits, {month}"
    assert lines[1].split() == [
        "District",
        "Sector",
        "Cell",
        "Village",
        "Volunteer",
        "Visits",
        "Households",
        "With",
        "concerns",
    ]
    assert lines[3].split() == ["Gasabo", "Remera", "Rukiri", "I", "Amajyambere", "Other", "Volunteer", "1", "1", "1"]
    assert lines[4].split() == ["Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe", "Test", "Volunteer", "3", "2", "1"]
    assert lines[6].split() == ["Total", "2", "villages", "2", "volunteers", "4", "3", "2"]

    result = runner.invoke(args=["visits", "summary", "--district", "gasabo"])  # this month by default
    assert result.exit_code == 0, result.output
    assert "Other Volunteer" in result.output and "Test Volunteer" not in result.output


def test_months_are_counted_in_rwandas_time(rt):
    register_volunteer(rt)
    _backdate(rt, datetime(2026, 10, 31, 21, 59, tzinfo=UTC), "OCT")  # 23:59 in Kigali
    _backdate(rt, datetime(2026, 10, 31, 22, 0, tzinfo=UTC), "NOV")  # midnight in Kigali
    _backdate(rt, datetime(2026, 12, 31, 21, 0, tzinfo=UTC), "DEC")
    assert [c.visits for c in visits.summary(rt, "2026-10")] == [1]
    assert [c.visits for c in visits.summary(rt, "2026-11")] == [1]
    assert [c.visits for c in visits.summary(rt, "2026-12")] == [1]
    assert visits.summary(rt, "2027-01") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "use YYYY-MM"),
        (["--month", "November"], "use YYYY-MM"),
        (["--district", "Atlantis"], "no district named 'Atlantis'"),
        (["--district", "Kimisagara"], "no district named 'Kimisagara'"),  # a sector, not a district
    ],
)
def test_visits_summary_refuses_bad_options_politely(runner, args, message):
    result = runner.invoke(args=["visits", "summary", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_month_without_visits_prints_an_empty_table(runner):
    result = runner.invoke(args=["visits", "summary", "--month", "2020-01"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].split() == ["Total", "0", "villages", "0", "volunteers", "0", "0", "0"]
    assert result.output.splitlines()[1].startswith("District")
