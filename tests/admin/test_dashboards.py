"""Dashboards in the admin web: charts drawn on the server with their tables, for a period
and a district (an officer's: theirs), exported as CSV and XLSX, and the monthly report."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta

from flask import Flask
from openpyxl import load_workbook

from gateway.clock import LOCAL_TIME
from gateway.runtime import Runtime
from tests.admin.pages import logged_in
from tests.cases import NYARUGENGE_VILLAGE, insert_case


def test_the_dashboard_draws_charts_beside_tables_of_the_records(app: Flask, rt: Runtime) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for n in range(3):
        insert_case(rt, n, category="violence", urgent=n == 0, created_at=yesterday)
    insert_case(rt, 9, NYARUGENGE_VILLAGE, category="labour", created_at=yesterday)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    response = admin.get("/admin/dashboards")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count("<svg") >= 6 and "<script" not in page
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in page
    assert "<td>Rusizi</td>" in page and "<td>Nyarugenge</td>" in page

    officer = logged_in(app, rt, "olive@example.org", "officer", "Rusizi")
    mine = officer.get("/admin/dashboards?district=1").get_data(as_text=True)
    assert "Dashboards: Rusizi" in mine and "<td>Nyarugenge</td>" not in mine

    book = load_workbook(io.BytesIO(officer.get("/admin/dashboards/export.xlsx").data))
    weekly = book["Referrals per week, by category"]
    assert [c.value for c in weekly[1]] == ["Week of", "violence", "Total"]
    assert sum(row[1].value for row in weekly.iter_rows(min_row=2)) == 3


def test_a_bad_period_is_told_politely(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    response = admin.get("/admin/dashboards?from=2026-03-10&to=2026-03-01")
    assert response.status_code == 400 and "The period ends before it starts." in response.get_data(as_text=True)
    assert admin.get("/admin/dashboards/report.xlsx?month=2026-13&district=1").status_code == 400


def test_the_monthly_report_of_a_district_downloads(app: Flask, rt: Runtime) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    insert_case(rt, 1, category="violence", created_at=at)
    officer = logged_in(app, rt, "olive@example.org", "officer", "Rusizi")
    month = at.astimezone(LOCAL_TIME).strftime("%Y-%m")
    response = officer.get(f"/admin/dashboards/report.csv?month={month}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    assert "Cases opened in the month, by category and outcome" in text and "violence,1,1" in text


def test_pages_go_gzipped_to_a_browser_that_takes_it(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    plain = admin.get("/admin/dashboards")
    packed = admin.get("/admin/dashboards", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data).count(b"<svg") == plain.data.count(b"<svg")
    assert len(packed.data) * 4 < len(plain.data)
