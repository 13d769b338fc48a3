"""The menu editor in a real browser (headless Chromium): what an admin does, end to end."""

from __future__ import annotations

import io
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import expect

from gateway.runtime import Runtime
from tests.admin.conftest import PHONE, screenshot


def _post_ussd(base: str, session_id: str, text: str) -> str:
    """POST /ussd as Africa's Talking does: a urlencoded form, text/plain back."""
    form = {
        "sessionId": session_id,
        "serviceCode": "*801#",
        "phoneNumber": "+250788765432",
        "networkCode": "63510",
        "text": text,
    }
    request = urllib.request.Request(f"{base}/ussd", data=urllib.parse.urlencode(form).encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def _open_draft(page: Any, node: str) -> None:
    page.goto("/admin/menus")
    page.get_by_role("button", name="Open a draft of the active version").click()
    page.get_by_role("link", name=node, exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"Node {node}"))).to_be_visible()


def _dial_preview(page: Any, lang: str, caller: str) -> None:
    page.select_option("#pv-lang", lang)
    page.select_option("#pv-caller", caller)
    page.click("#pv-dial")


def test_an_admin_edits_a_prompt_publishes_it_and_callers_hear_it_then_restores(
    admin_page: Any, live_server: str, rt: Runtime
) -> None:
    page = admin_page
    _open_draft(page, "main_community")
    _dial_preview(page, "en", "community")
    expect(page.locator("#pv-screen")).to_contain_text("Ijwi - Child protection")
    counter = page.locator('[data-counter="text.en"]')
    before = counter.inner_text()
    assert re.match(r"Screen: \d+ of 182 characters", before), before

    field = page.locator('textarea[name="text.en"]')
    field.fill("Ijwi - Keep a child safe")
    expect(counter).not_to_have_text(before)
    longer = int(re.search(r"(\d+) of 182", counter.inner_text()).group(1))  # type: ignore[union-attr]
    grown = len("Ijwi - Keep a child safe") - len("Ijwi - Child protection")
    assert longer == int(re.search(r"(\d+) of", before).group(1)) + grown  # type: ignore[union-attr]
    # The preview follows the typing, before anything is saved.
    expect(page.locator("#pv-screen")).to_contain_text("Ijwi - Keep a child safe")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved. The draft passes every check.")).to_be_visible()
    expect(page.locator("#pv-screen")).to_contain_text("Ijwi - Keep a child safe")
    page.fill("#pv-input", "1")
    page.click("#pv-send")
    expect(page.locator("#pv-screen")).to_contain_text("What is happening?")
    screenshot(page, "menu-editor")
    screenshot(page, "menu-editor-window", full_page=False)

    # What the preview shows is what a caller gets from the webhook, hop for hop.
    page.click("#pv-dial")
    expect(page.locator("#pv-screen")).to_contain_text("Ijwi - Keep a child safe")
    previewed = page.locator("#phone").get_attribute("data-reply")
    assert previewed is not None and previewed.startswith("CON ")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published as v1.")).to_be_visible()
    rt.menus.refresh()
    # Callers dial in English: a community caller's language is remembered by phone.
    assert _post_ussd(live_server, "ATUid_b1", "").startswith("CON Ijwi - Kurinda umwana")
    _post_ussd(live_server, "ATUid_b1", "3")
    _post_ussd(live_server, "ATUid_b1", "3*2")
    screen = _post_ussd(live_server, "ATUid_b2", "")
    assert screen == previewed

    # Publish a second change, then restore the first version.
    _open_draft(page, "main_community")
    page.locator('textarea[name="text.en"]').fill("Ijwi - Protect children")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published as v2.")).to_be_visible()
    rt.menus.refresh()
    assert _post_ussd(live_server, "ATUid_b3", "").startswith("CON Ijwi - Protect children")
    page.get_by_role("button", name="Restore v1").click()
    expect(page.get_by_text("v1 restored as v3.")).to_be_visible()
    rt.menus.refresh()
    assert _post_ussd(live_server, "ATUid_b4", "").startswith("CON Ijwi - Keep a child safe")
    expect(page.get_by_role("cell", name="Restored v1 as v3")).to_be_visible()
    screenshot(page, "menus")
    page.get_by_role("link", name="Compare with active").first.click()
    expect(page.get_by_text("Ijwi - Protect children")).to_be_visible()
    screenshot(page, "diff")


def test_a_too_long_french_text_is_refused_and_removing_the_age_question_blocks_publishing(admin_page: Any) -> None:
    page = admin_page
    _open_draft(page, "danger")
    field = page.locator('textarea[name="text.fr"]')
    field.fill("L'enfant est-il en danger maintenant, aujourd'hui, a la maison, a l'ecole ou ailleurs ? " * 2)
    expect(page.locator('[data-counter="text.fr"]')).to_contain_text("too long")
    expect(page.locator('[data-counter="text.fr"]')).to_have_class(re.compile("over"))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text(
        re.compile(r"Not saved: node danger page 1 \(fr\): \d+ characters, over 182")
    )
    screenshot(page, "too-long-refused")

    page.get_by_role("link", name="age", exact=True).click()
    page.get_by_role("button", name="Remove node age").click()
    expect(page.get_by_text("Node age removed")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Not published: node confirm option 1: a volunteer caller can send a report here"
        " without its age band (age_band)"
    )


def test_translations_go_out_as_a_spreadsheet_and_come_back_checked(admin_page: Any, tmp_path: Any) -> None:
    page = admin_page
    _open_draft(page, "sex")
    page.get_by_role("link", name="Translations").click()
    expect(page.get_by_text("rw 95")).to_be_visible()
    screenshot(page, "translations")
    with page.expect_download() as download:
        page.get_by_role("link", name="Spreadsheet (XLSX)").click()
    path = tmp_path / "texts.xlsx"
    download.value.save_as(path)
    book = load_workbook(path)
    sheet = book.active
    for row in sheet.iter_rows(min_row=2):
        text_id, lang = row[0].value, row[1].value
        if (text_id, lang) == ("nodes.sex.text", "rw"):
            row[2].value = "Igitsina cy'umwana ni ikihe?"
            row[3].value = "reviewed"
        if (text_id, lang) == ("nodes.sex.text", "fr"):
            row[2].value = "Sexe de l'enfant ? " * 12  # too long for the screen
        if (text_id, lang) == ("nodes.age.text", "fr"):
            row[2].value = "Âge ?"  # outside GSM-7
    out = io.BytesIO()
    book.save(out)
    page.set_input_files(
        'input[name="file"]',
        files=[{"name": "texts.xlsx", "mimeType": "application/octet-stream", "buffer": out.getvalue()}],
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("1 to change")).to_be_visible()
    expect(page.get_by_text("2 refused")).to_be_visible()
    expect(page.get_by_text("'Â' is outside the GSM 7-bit alphabet")).to_be_visible()
    expect(page.get_by_text(re.compile(r"node sex page 1 \(fr\): \d+ characters, over 182"))).to_be_visible()
    screenshot(page, "import-preview")
    page.get_by_role("button", name="Apply 1 change").click()
    expect(page.get_by_text("Imported 1 text(s).")).to_be_visible()
    expect(page.get_by_text("rw: 94 to review")).to_be_visible()
    page.get_by_role("link", name="sex", exact=True).click()
    expect(page.locator('textarea[name="text.rw"]')).to_have_value("Igitsina cy'umwana ni ikihe?")
    expect(page.locator('input[name="review:text.rw"]')).not_to_be_checked()

    # The PO file of a language carries the same texts, with "fuzzy" for those to review.
    page.get_by_role("link", name="Translations").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="PO: fr").click()
    po = download.value.path().read_text(encoding="utf-8")
    assert 'msgctxt "nodes.sex.text"' in po and 'msgstr "Sexe de l\'enfant ?"' in po
    edited = po.replace('msgstr "Sexe de l\'enfant ?"', 'msgstr "Fille ou garcon ?"')
    page.set_input_files(
        'input[name="file"]', files=[{"name": "fr.po", "mimeType": "text/plain", "buffer": edited.encode()}]
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("1 to change")).to_be_visible()
    page.get_by_role("button", name="Apply 1 change").click()
    page.get_by_role("link", name="sex", exact=True).click()
    expect(page.locator('textarea[name="text.fr"]')).to_have_value("Fille ou garcon ?")


def test_a_viewer_sees_no_publish_and_a_form_without_its_token_is_refused(
    logged_in_page: Callable[..., Any], rt: Runtime
) -> None:
    from gateway.ussd import drafts

    draft = drafts.open_draft(rt, rt.menus.active().version, "admin@example.org")
    viewer = logged_in_page("viewer", PHONE)
    viewer.goto(f"/admin/menus/drafts/{draft.id}")
    expect(viewer.get_by_role("heading", name=draft.name)).to_be_visible()
    expect(viewer.get_by_role("button", name="Publish")).to_have_count(0)
    expect(viewer.locator('textarea[name="text.en"]')).to_be_disabled()
    screenshot(viewer, "editor-phone-viewer")
    screenshot(viewer, "editor-phone-top", full_page=False)

    admin = logged_in_page("admin", PHONE)
    admin.goto("/admin/menus")
    screenshot(admin, "menus-phone")
    admin.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    admin.get_by_role("button", name="Open a draft of the active version").click()
    expect(admin.get_by_role("heading", name="Form refused")).to_be_visible()
    expect(admin.get_by_text("The CSRF token is missing.")).to_be_visible()
    assert len(drafts.all_drafts(rt)) == 1
