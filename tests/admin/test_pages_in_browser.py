"""The cases, registry and dashboard pages in a real browser (headless Chromium), as a
district officer and an administrator use them; screenshots kept of each main page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Message, Officer, Referral
from gateway.referrals import lifecycle
from gateway.runtime import Runtime
from tests.admin.conftest import LAPTOP, PHONE, browser_login, screenshot
from tests.cases import (
    NYARUGENGE_VILLAGE,
    RUSIZI_VILLAGE,
    insert_case,
    insert_message,
    reference,
    sent_to_nyarugenge_then_moved_to_gasabo,
)
from tests.helpers import OFFICERS_CSV, SOCIAL_WORKER, register_officers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _officer_page(new_page: Callable[..., Any], make_user: Callable[..., str], district: str, **kw: Any) -> Any:
    page = new_page(**kw)
    browser_login(page, make_user(f"officer-{district.lower()}@example.org", "officer", district))
    return page


def test_an_officer_acknowledges_notes_and_closes_a_case_and_sees_it_on_the_timeline(
    new_page: Callable[..., Any], make_user: Callable[..., str], rt: Runtime
) -> None:
    register_officers(rt)
    insert_case(rt, 1, NYARUGENGE_VILLAGE, urgent=True, details="Seen crying at the market", callback_ok=True)
    insert_case(rt, 2, NYARUGENGE_VILLAGE, created_at=datetime.now(UTC) - timedelta(days=3))
    page = _officer_page(new_page, make_user, "Nyarugenge", viewport=PHONE)
    page.goto("/admin/cases")
    screenshot(page, "cases-list-phone")
    page.get_by_role("link", name=re.compile(reference(1))).click()
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text(f"Case {reference(1)}: acknowledged.").wait_for()
    page.get_by_label("Note", exact=True).fill("Called the IZU; visiting tomorrow")
    page.get_by_role("button", name="Add note").click()
    page.get_by_label("Outcome").select_option(label="Family supported")
    page.get_by_role("button", name="Close case").click()
    page.get_by_text(f"Case {reference(1)}: closed: Family supported.").wait_for()
    timeline = page.locator(".timeline").inner_text()
    assert "acknowledged · officer-nyarugenge@example.org" in timeline
    assert "Called the IZU; visiting tomorrow" in timeline
    assert "closed · officer-nyarugenge@example.org — by admin web, outcome Family supported" in timeline
    assert "Seen crying at the market" in page.content()
    screenshot(page, "case-detail-phone")


def test_an_admin_switches_an_officer_off_duty_and_the_next_alert_goes_to_someone_else(
    admin_page: Any, rt: Runtime
) -> None:
    register_officers(rt)
    page = admin_page
    page.goto("/admin/registry")
    screenshot(page, "registry")
    page.get_by_role("button", name="On Duty Social Worker: on duty, switch off").click()
    page.get_by_text("On Duty Social Worker is now off duty.").wait_for()
    referral_id = insert_case(rt, 1, NYARUGENGE_VILLAGE, status="new")
    with rt.db.transaction() as session:
        lifecycle.route(rt, session, session.get_one(Referral, referral_id), utcnow())
    page.goto(f"/admin/cases/{reference(1)}")
    assignments = page.locator("table").nth(1).inner_text()
    assert "On Duty Psychologist" in assignments and "On Duty Social Worker" not in assignments
    with rt.db.reading() as session:
        assert session.scalars(select(Message.to).where(Message.referral_id == referral_id)).all() == ["+250788000222"]


def test_a_csv_with_a_bad_line_shows_what_would_change_and_commits_nothing(
    admin_page: Any, rt: Runtime, tmp_path: Path
) -> None:
    upload = tmp_path / "officers.csv"
    upload.write_text(OFFICERS_CSV + "Broken Line,+2507,social_worker,Rusizi,,yes,en\n")
    page = admin_page
    page.goto("/admin/registry/upload")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Nothing will be saved").wait_for()
    text = page.locator(".preview").inner_text()
    assert "8 added" in text and "1 refused" in text and "line 10: '+2507' is not a valid phone number" in text
    assert page.get_by_role("button", name="Save these changes").count() == 0
    screenshot(page, "registry-upload-refused")
    with rt.db.reading() as session:
        assert session.scalars(select(Officer)).all() == []


def test_the_dashboard_charts_show_the_records_and_the_xlsx_reads_back(
    admin_page: Any, rt: Runtime, tmp_path: Path
) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ids = [insert_case(rt, n, RUSIZI_VILLAGE, category="violence", created_at=yesterday) for n in range(4)]
    insert_case(rt, 9, NYARUGENGE_VILLAGE, category="neglect", urgent=True, created_at=yesterday)
    for status in ("delivered", "delivered", "failed"):
        insert_message(rt, ids[0], status, created_at=yesterday)
    page = admin_page
    page.goto("/admin/dashboards")
    districts = page.locator("#per_week_by_district")
    # The values printed on the bars.
    assert sorted(t for t in districts.locator("svg text.value").all_text_contents() if t) == ["1", "4"]
    table = districts.locator("table").inner_text()
    assert re.search(r"Rusizi(\s+0)*\s+4\s+4", table) and re.search(r"Nyarugenge(\s+0)*\s+1\s+1", table)
    sms = page.locator("#sms")
    assert re.search(r"delivered\s+2\s+66\.7", sms.locator("table").inner_text())
    assert sorted(t for t in sms.locator("svg text.value").all_text_contents() if t) == ["1", "2"]
    screenshot(page, "dashboard")
    with page.expect_download() as caught:
        page.get_by_role("link", name="XLSX").click()
    target = tmp_path / "dashboard.xlsx"
    caught.value.save_as(target)
    book = load_workbook(target)
    weekly = book["Referrals per week, by category"]
    assert [c.value for c in weekly[1]] == ["Week of", "violence", "neglect", "Total"]
    assert sum(row[3].value for row in weekly.iter_rows(min_row=2)) == 5


def test_another_districts_officer_gets_404_and_their_export_leaves_the_case_out(
    new_page: Callable[..., Any], make_user: Callable[..., str], rt: Runtime, tmp_path: Path
) -> None:
    insert_case(rt, 1, NYARUGENGE_VILLAGE)
    insert_case(rt, 2, RUSIZI_VILLAGE)
    page = _officer_page(new_page, make_user, "Rusizi")
    response = page.goto(f"/admin/cases/{reference(1)}")
    assert response.status == 404 and "There is no such page or record." in page.content()
    page.goto("/admin/cases")
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download XLSX").click()
    target = tmp_path / "cases.xlsx"
    caught.value.save_as(target)
    sheet = load_workbook(target).active
    assert sheet is not None
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [reference(2)]


def test_a_viewers_post_is_refused(new_page: Callable[..., Any], make_user: Callable[..., str], rt: Runtime) -> None:
    insert_case(rt, 1, NYARUGENGE_VILLAGE)
    page = new_page()
    browser_login(page, make_user("viewer@example.org", "viewer"))
    page.goto(f"/admin/cases/{reference(1)}")
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"/admin/cases/{reference(1)}/acknowledge", form={"csrf_token": token})
    assert response.status == 403
    with rt.db.reading() as session:
        assert session.scalars(select(Referral)).one().status == "routed"


def test_screenshots_of_the_main_pages_at_phone_and_laptop_width(
    new_page: Callable[..., Any], make_user: Callable[..., str], rt: Runtime
) -> None:
    register_officers(rt)
    now = datetime.now(UTC)
    for n in range(12):
        insert_case(
            rt,
            n,
            NYARUGENGE_VILLAGE if n % 3 else RUSIZI_VILLAGE,
            category=("violence", "neglect", "labour", "school")[n % 4],
            urgent=n % 4 == 0,
            created_at=now - timedelta(days=n * 5, hours=n),
            acknowledged_after=timedelta(minutes=20 + n * 7) if n % 2 else None,
            closed_after=timedelta(days=2) if n % 4 == 1 else None,
            escalation_step=1 if n % 5 == 0 else 0,
        )
    page = new_page(viewport=PHONE)
    browser_login(page, make_user("ada@example.org", "admin"))
    for path, name in (("/admin/dashboards", "dashboard-phone"), ("/admin/registry", "registry-phone")):
        page.goto(path)
        screenshot(page, name)
    page.goto("/admin/users")
    screenshot(page, "users-phone")
    wide = new_page(viewport=LAPTOP)
    browser_login(wide, "ada@example.org")
    wide.goto("/admin/cases")
    screenshot(wide, "cases-list")
    wide.goto(f"/admin/cases/{reference(0)}")
    screenshot(wide, "case-detail")


def test_an_officer_alerted_about_another_districts_case_acknowledges_it_and_the_page_names_them(
    new_page: Callable[..., Any], make_user: Callable[..., str], rt: Runtime
) -> None:
    # Reported in Nyarugenge, alerted to Nyarugenge's social worker, then moved to Gasabo.
    sent_to_nyarugenge_then_moved_to_gasabo(rt)
    page = new_page(viewport=PHONE)
    browser_login(page, make_user("sw@example.org", "officer", officer=SOCIAL_WORKER))
    page.goto("/admin/cases")
    row = page.get_by_role("link", name=re.compile(reference(1)))
    assert "Gasabo" in row.inner_text()
    row.click()
    page.get_by_text("You act as the officer On Duty Social Worker").wait_for()
    assert "This case is in Gasabo, not your district: you see it because it was sent to you." in page.content()
    # The timeline names officers, never by their ids.
    routed = page.locator(".timeline li").first.inner_text()
    assert "On Duty Social Worker (social worker) (on_duty)" in routed and "officer:" not in routed
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text(f"Case {reference(1)}: acknowledged.").wait_for()
    facts = page.locator("dl.facts").first.inner_text()
    assert re.search(r"Acknowledged\s+.+ by On Duty Social Worker", facts)
    assert (
        "acknowledged · On Duty Social Worker (social worker) — by admin web" in page.locator(".timeline").inner_text()
    )
    screenshot(page, "case-detail-alerted-officer-phone")
    with rt.db.reading() as session:
        referral = session.scalars(select(Referral)).one()
        officer = session.scalars(select(Officer).where(Officer.phone == SOCIAL_WORKER)).one()
    assert (referral.status, referral.acknowledged_by_id) == ("acknowledged", officer.id)

    # An officer of a third district: no such case.
    other = _officer_page(new_page, make_user, "Rusizi", viewport=PHONE)
    response = other.goto(f"/admin/cases/{reference(1)}")
    assert response.status == 404 and "There is no such page or record." in other.content()
    other.goto("/admin/cases")
    assert other.get_by_role("link", name=re.compile(reference(1))).count() == 0


def test_an_admin_links_a_new_user_to_their_registry_officer_on_a_phone(admin_page: Any, rt: Runtime) -> None:
    register_officers(rt)
    page = admin_page
    page.set_viewport_size(PHONE)
    page.goto("/admin/users")
    form = page.locator("form", has=page.get_by_role("heading", name="New user"))
    form.get_by_label("Email").fill("psy@example.org")
    form.get_by_label("Password").fill("a long password")
    form.get_by_label("Role").select_option("officer")
    form.get_by_label("Registry officer this person is").fill("+250788000222")
    form.get_by_label("Registry officer this person is").press("Tab")  # on, past the list of suggestions
    screenshot(page, "users-form-phone")
    form.get_by_role("button", name="Create").click()
    page.get_by_text("psy@example.org created (officer, the officer On Duty Psychologist).").wait_for()
    card = page.locator(".card", has_text="psy@example.org").first
    assert "Registry officer: On Duty Psychologist" in card.inner_text()
    assert card.get_by_label("Registry officer (phone)").input_value() == "+250788000222"
    screenshot(page, "users-phone-linked")
