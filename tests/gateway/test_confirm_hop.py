"""The confirm hop, which the caller waits on: the report is durable in one statement to the
database before the reference is shown, and a reference is never given twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select

from gateway.models import Report, Visit
from gateway.referrals import reports
from gateway.ussd.callers import profile
from menus.reference import new_reference
from tests.helpers import VOLUNTEER_PHONE, Dial, reference_in, register_volunteer


def _until_confirm(dial: Dial) -> str:
    return dial.send("1", "1", "1", "2", "1", "1", "Child alone at night")


def test_the_confirm_hop_stores_the_report_in_one_statement(client, rt):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    _until_confirm(dial)
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", note)
    try:
        end = dial.send("1")
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", note)
    assert end.startswith("END ")
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT INTO REPORTS")
    with rt.db.reading() as session:
        stored = session.scalars(select(Report)).one()
    assert stored.reference == reference_in(end) and stored.created_at is not None and stored.channel == "ussd"


def test_a_reference_a_visit_has_already_is_drawn_again_for_a_report(rt, monkeypatch):
    register_volunteer(rt)
    caller = profile(rt, VOLUNTEER_PHONE)
    taken = reports.record_visit(rt, "visit-session", caller, {"household": "h1"})
    fresh = new_reference()
    draws = iter([taken, fresh])
    monkeypatch.setattr(reports, "new_reference", lambda: next(draws))
    answers = {"category": "neglect", "age_band": "5-11", "sex": "girl", "location": caller.village_id}
    reference = reports.submit_report(rt, "report-session", caller, answers, "en", "v1")
    assert reference == fresh != taken
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Visit).where(Visit.reference == taken)) == 1
        assert session.scalar(select(Report.reference)) == fresh


def test_a_resent_confirm_gets_the_first_reference_and_stores_nothing_more(rt):
    register_volunteer(rt)
    caller = profile(rt, VOLUNTEER_PHONE)
    answers = {"category": "neglect", "age_band": "5-11", "sex": "girl", "location": caller.village_id}
    first = reports.submit_report(rt, "one-session", caller, answers, "en", "v1")
    again = reports.submit_report(rt, "one-session", caller, answers, "en", "v1")
    assert again == first
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 1
