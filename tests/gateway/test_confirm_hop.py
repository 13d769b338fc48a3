"""The confirm hop, which the caller waits on: the report is durable in one statement to the
database before the reference is shown, and a reference is never given twice."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text

from gateway import db, keys, redis_conn
from gateway.models import Report, Visit
from gateway.referrals import reports
from gateway.runtime import Runtime
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


def test_the_confirm_hop_hands_its_report_over_in_the_same_round_trip_as_the_session(client, rt, monkeypatch):
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    _until_confirm(dial)
    batches: list[list[str]] = []
    real = redis_conn.round_trip

    def noted(client: Any, *commands: Any) -> list[Any]:
        batches.append([str(c[0]) for c in commands])
        return real(client, *commands)

    for module in ("gateway.ussd.service", "gateway.referrals.reports", "gateway.limits"):
        monkeypatch.setattr(f"{module}.round_trip", noted)
    end = dial.send("1")
    with rt.db.reading() as session:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference_in(end)))
    # Read the session; count the report against the phone's limit; then one write: the
    # hand-over to the workers, the session (now ended) and the draft dropped.
    assert batches == [["MGET"], ["SET", "INCR"], ["RPUSH", "SET", "DEL"]]
    assert rt.redis.lrange(keys.routing_inbox(), 0, -1) == [f"report:{report_id}"]


def _close_every_other_connection(rt: Runtime) -> int:
    """What a database restart does to a pool: the server side of each pooled connection gone."""
    admin = create_engine(rt.settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        admin.dispose()


@pytest.fixture
def postgresql(rt: Runtime) -> Runtime:
    if rt.db.engine.dialect.name != "postgresql":
        pytest.skip("closes PostgreSQL's server-side connections")
    return rt


def test_a_confirm_right_after_the_database_closed_the_pooled_connections_still_gets_its_reference(
    client, postgresql, caplog
):
    rt = postgresql
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    _until_confirm(dial)
    # The connection was just used (no ping before its next use): the insert meets the closed one.
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 0
    assert _close_every_other_connection(rt) >= 1
    with caplog.at_level(logging.WARNING, logger="gateway.referrals.reports"):
        end = dial.send("1")
    assert end.startswith("END ") and "storing the reports again" in caplog.text
    with rt.db.reading() as session:
        assert session.scalars(select(Report.reference)).all() == [reference_in(end)]


def test_a_pooled_connection_idle_for_a_while_is_pinged_and_replaced_if_the_database_closed_it(postgresql, monkeypatch):
    rt = postgresql
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 0
    assert _close_every_other_connection(rt) >= 1
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0)  # as if it had been idle for long
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 0


def _confirm(client: Any, checkouts: list[object]) -> tuple[str, int]:
    """A volunteer's whole report; the END screen and the pool checkouts its confirm hop made."""
    dial = Dial(client, VOLUNTEER_PHONE)
    _until_confirm(dial)
    before = len(checkouts)
    end = dial.send("1")
    return end, len(checkouts) - before


def test_confirms_in_a_row_share_one_connection_and_one_idle_for_a_while_goes_back_to_the_pool(client, rt, monkeypatch):
    register_volunteer(rt)
    checkouts: list[object] = []
    event.listen(rt.db.engine, "checkout", lambda *args: checkouts.append(args))
    first, second = _confirm(client, checkouts), _confirm(client, checkouts)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0)  # as if the last confirm were long ago
    third = _confirm(client, checkouts)
    # The first confirm checks a connection out and keeps it; the next, soon after, uses it as it is.
    assert [made for _, made in (first, second, third)] == [1, 0, 1]
    with rt.db.reading() as session:
        stored = sorted(session.scalars(select(Report.reference)))
    assert stored == sorted(reference_in(end) for end, _ in (first, second, third))


def test_a_confirm_after_the_database_closed_the_kept_connection_still_gets_its_reference(client, postgresql, caplog):
    rt = postgresql
    register_volunteer(rt)
    first, _ = _confirm(client, [])
    dial = Dial(client, VOLUNTEER_PHONE)
    _until_confirm(dial)
    assert _close_every_other_connection(rt) >= 1  # the kept connection among them
    with caplog.at_level(logging.WARNING, logger="gateway.referrals.reports"):
        end = dial.send("1")
    assert end.startswith("END ") and "storing the reports again" in caplog.text
    with rt.db.reading() as session:
        assert sorted(session.scalars(select(Report.reference))) == sorted([reference_in(first), reference_in(end)])


def test_disposing_the_engine_gives_the_kept_connection_back(rt):
    kept = rt.db.autocommit()
    assert rt.db.autocommit() is kept and rt.db.engine.pool.checkedout() == 1
    rt.db.engine.dispose()
    assert kept.closed
    assert rt.db.autocommit() is not kept
