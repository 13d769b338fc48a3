"""Exports: the case list without private fields unless allowed, the dashboards' tables and
the monthly programme report, as CSV and XLSX a spreadsheet opens."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from gateway.accounts.users import Reader
from gateway.models import Referral
from gateway.referrals import cases, exports, stats
from gateway.referrals.lifecycle import close
from gateway.runtime import Runtime
from gateway.vocabulary import CloseOutcome
from tests.cases import NYARUGENGE_VILLAGE, REPORTER_PHONE, insert_case, insert_visit, place_id, reference

TARGETS = stats.Targets(urgent_seconds=1800, normal_seconds=86400)


def _table(rt: Runtime, reader: Reader, with_private: bool) -> tuple[stats.Table, list[int]]:
    with rt.db.reading() as session:
        return exports.case_table(session, rt.places, rt.crypto, reader, cases.CaseFilter(), with_private)


def test_the_case_list_carries_private_fields_only_where_the_role_allows(rt: Runtime) -> None:
    rusizi_case = insert_case(rt, 1, details="=HYPERLINK(bad)", callback_ok=True)
    insert_case(rt, 2, NYARUGENGE_VILLAGE, details="other district's words")
    admin = Reader(1, "ada@example.org", "admin", None)
    officer = Reader(2, "olive@example.org", "officer", place_id(rt, "Rusizi"))
    viewer = Reader(3, "vic@example.org", "viewer", None)

    table, disclosed = _table(rt, officer, with_private=True)
    assert [row[0] for row in table.rows] == [reference(1)]  # the other district's case is left out
    assert table.columns[-3:] == ["Details", "Reporter phone", "Close note"]
    assert table.rows[0][-3:] == ["=HYPERLINK(bad)", REPORTER_PHONE, ""] and disclosed == [rusizi_case]

    table, disclosed = _table(rt, viewer, with_private=True)
    assert len(table.rows) == 2 and disclosed == [] and all(row[-3:] == ["", "", ""] for row in table.rows)
    table, disclosed = _table(rt, admin, with_private=False)
    assert "Details" not in table.columns and "words" not in str(table.rows) and disclosed == []

    # A spreadsheet does not run what a reporter typed.
    table, _ = _table(rt, admin, with_private=True)
    text = exports.to_csv([table]).decode("utf-8-sig")
    assert "'=HYPERLINK(bad)" in text and "'" + REPORTER_PHONE in text
    sheet = load_workbook(io.BytesIO(exports.to_xlsx([table]))).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Reference", "Opened", "Status"]
    assert "'=HYPERLINK(bad)" in values[2] and REPORTER_PHONE in values[2]


def test_dashboard_tables_export_one_sheet_each_and_csv_sections(rt: Runtime) -> None:
    insert_case(rt, 1, created_at=datetime.now(UTC) - timedelta(days=1))
    with rt.db.reading() as session:
        today = datetime.now(UTC).date()
        figures = stats.dashboard(session, rt.places, stats.Period.last_weeks(today), TARGETS, datetime.now(UTC))
    book = load_workbook(io.BytesIO(exports.to_xlsx(figures.tables)))
    assert len(book.sheetnames) == len(figures.tables)
    assert book.sheetnames[0] == "Referrals per week, by category"
    rows = list(csv.reader(io.StringIO(exports.to_csv(figures.tables).decode("utf-8-sig"))))
    assert ["Referrals per week, by category"] in rows and ["SMS sent, delivered, failed and retried"] in rows


def test_the_monthly_report_counts_cases_by_category_and_outcome_and_families_visited(rt: Runtime) -> None:
    at = datetime(2026, 3, 10, 8, tzinfo=UTC)
    ids = [insert_case(rt, n, category=c, created_at=at) for n, c in enumerate(["violence", "violence", "neglect"], 1)]
    insert_case(rt, 9, NYARUGENGE_VILLAGE, created_at=at)  # another district
    insert_case(rt, 10, created_at=datetime(2026, 4, 1, 8, tzinfo=UTC))  # another month
    with rt.db.transaction() as session:
        for referral_id, outcome in zip(ids[:2], [CloseOutcome.REFERRED, CloseOutcome.PLACED], strict=True):
            referral = session.get_one(Referral, referral_id)
            close(rt, session, referral, None, at + timedelta(hours=3), outcome=outcome, actor="user:a")
    insert_visit(rt, 1, ("Rusizi", "Nyakabuye", "Kamanu", "Site"), "hh-1", at)
    insert_visit(rt, 2, ("Rusizi", "Nyakabuye", "Kamanu", "Site"), "hh-2", at)
    with rt.db.reading() as session:
        tables = exports.monthly_report(session, rt.places, "2026-03", place_id(rt, "Rusizi"), TARGETS, at)
    by_outcome, times, visits = tables
    assert by_outcome.columns[:3] == ["Category", "Cases", "Still open"]
    outcome = by_outcome.columns.index
    rows = {r[0]: r for r in by_outcome.rows}
    assert rows["violence"][1:3] == [2, 0] and rows["violence"][outcome("Referred to services")] == 1
    assert rows["violence"][outcome("Placed in care")] == 1 and rows["neglect"][1:3] == [1, 1]
    assert rows["Total"][1] == 3
    assert {r[0]: r[1] for r in times.rows}["to close (not urgent)"] == 2
    assert visits.rows == [["Rusizi", "2026-03", 2, 2, 1, 1]]
