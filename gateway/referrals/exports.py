"""Exports as CSV and XLSX: the case list, the dashboards' tables, the monthly programme
report of a district. Each is a list of `stats.Table`s written one way or the other.

The case list carries no free text or phone unless the reader's role allows it for the
case and the reader asked for it; the caller audits every case whose private fields went out.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.accounts.users import Reader
from gateway.clock import LOCAL_TIME
from gateway.crypto import Crypto
from gateway.models import Referral, Report
from gateway.referrals import cases, stats
from gateway.registry.places import PlaceIndex
from gateway.vocabulary import CloseOutcome, ReferralStatus, outcome_label

# Most cases one export holds (a bigger one is narrowed by its filters first).
MAX_CASES = 50_000
# Rows read from the database at a time.
BATCH = 2_000
# The case list's columns; the private ones follow only when allowed and asked for.
CASE_COLUMNS = [
    "Reference",
    "Opened",
    "Status",
    "Category",
    "Urgent",
    "Age band",
    "Sex",
    "District",
    "Sector",
    "Cell",
    "Village",
    "Reporter",
    "Flagged",
    "Escalation step",
    "Acknowledged",
    "Closed",
    "Outcome",
]
PRIVATE_COLUMNS = ["Details", "Reporter phone", "Close note"]
# Characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def local(moment: datetime | None) -> str:
    """A time in Rwanda's time to the minute, as a spreadsheet reads it."""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M") if moment else ""


def case_table(
    session: Session,
    places: PlaceIndex,
    crypto: Crypto,
    reader: Reader,
    narrow: cases.CaseFilter,
    with_private: bool,
) -> tuple[stats.Table, list[int]]:
    """The cases the reader may see that match narrow, newest first (at most MAX_CASES), and
    the ids of those whose private fields were written (to audit)."""
    columns = CASE_COLUMNS + (PRIVATE_COLUMNS if with_private else [])
    table = stats.Table("cases", "Cases", columns)
    disclosed: list[int] = []
    query = cases.narrowed(select(Referral), reader, narrow).order_by(Referral.created_at.desc(), Referral.id.desc())
    for referral in session.scalars(query.limit(MAX_CASES).execution_options(yield_per=BATCH)):
        names = cases.place(places, referral)
        row: list[Any] = [
            referral.reference,
            local(referral.created_at),
            referral.status,
            referral.category,
            "yes" if referral.urgent else "no",
            referral.age_band,
            referral.sex,
            names["district"],
            names["sector"],
            names["cell"],
            names["village"],
            referral.reporter_kind,
            "yes" if referral.flagged else "no",
            referral.escalation_step,
            local(referral.acknowledged_at),
            local(referral.closed_at),
            outcome_label(referral.outcome),
        ]
        if with_private:
            row += _private(session, crypto, reader, referral)
            if any(row[-3:]):
                disclosed.append(referral.id)
        table.rows.append(row)
    if len(table.rows) == MAX_CASES:
        table.note = f"Only the newest {MAX_CASES} cases: narrow the filters for the others."
    return table, disclosed


def _private(session: Session, crypto: Crypto, reader: Reader, referral: Referral) -> list[str]:
    if not cases.may_see_private(session, reader, referral):
        return ["", "", ""]
    report = session.get(Report, referral.report_id) if referral.report_id else None
    details = crypto.decrypt(report.details_enc) if report and report.details_enc else ""
    phone = crypto.decrypt(report.reporter_phone_enc) if report and report.callback_ok else ""
    note = crypto.decrypt(referral.close_note_enc) if referral.close_note_enc else ""
    return [details, phone, note]


def monthly_report(
    session: Session, places: PlaceIndex, month: str, district_id: int, targets: stats.Targets, now: datetime
) -> list[stats.Table]:
    """A district's programme report for a month (YYYY-MM): cases by category and outcome,
    response times, home visits and families visited. ValueError for a malformed month."""
    first = datetime.strptime(month, "%Y-%m").date()
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    period = stats.Period(first, date.fromordinal(following.toordinal() - 1), district_id)
    outcomes = [str(o) for o in CloseOutcome]
    closed = Referral.status == ReferralStatus.CLOSED
    rows = session.execute(
        select(
            Referral.category,
            func.count(),
            func.sum(case((closed, 0), else_=1)),
            *(func.sum(case(((closed & (Referral.outcome == o)), 1), else_=0)) for o in outcomes),
        )
        .where(Referral.created_at >= period.start, Referral.created_at < period.end)
        .where(Referral.district_id == district_id)
        .group_by(Referral.category)
        .order_by(Referral.category)
    ).all()
    by_outcome = stats.Table(
        "cases_by_outcome",
        "Cases opened in the month, by category and outcome",
        ["Category", "Cases", "Still open", *(outcome_label(o) for o in outcomes)],
        note="Outcome as the officer gave it when closing; a case closed by SMS without one counts in no column.",
    )
    totals: dict[int, int] = defaultdict(int)
    for category, *counts in rows:
        by_outcome.rows.append([category, *(c or 0 for c in counts)])
        for i, c in enumerate(counts):
            totals[i] += c or 0
    by_outcome.rows.append(["Total", *(totals[i] for i in range(2 + len(outcomes)))])
    visits, _ = stats.visits(session, places, period, now)
    return [by_outcome, stats.response_times(session, period, targets), visits]


def to_csv(tables: list[stats.Table]) -> bytes:
    """Tables one after another, each under its title, a blank line between them (UTF-8 with
    a byte-order mark, so that spreadsheets read the accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for i, table in enumerate(tables):
        if len(tables) > 1:
            if i:
                writer.writerow([])
            writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows([[_safe(v, _FORMULA_START) for v in row] for row in table.rows])
        if table.note:
            writer.writerow([table.note])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(tables: list[stats.Table]) -> bytes:
    """One sheet per table, its header in bold."""
    book = Workbook(write_only=False)
    book.remove(book.active)  # type: ignore[arg-type]
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, book.sheetnames))
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_safe(v, ("=",)) for v in row])
        if table.note:
            sheet.append([])
            sheet.append([table.note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(value: Any, starts: tuple[str, ...]) -> Any:
    """A text cell a spreadsheet would run as a formula is written as text (in XLSX only "="
    makes a formula; a CSV cell is guessed at, so "+", "-" and "@" too)."""
    if isinstance(value, str) and value.startswith(starts):
        return "'" + value
    return "" if value is None else value


def _sheet_name(title: str, taken: list[str]) -> str:
    name = "".join(c for c in title if c not in "[]:*?/\\")[:31]
    base, n = name, 2
    while name in taken:
        name = f"{base[:28]} {n}"
        n += 1
    return name
