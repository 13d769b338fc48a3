"""Cases in the admin web: officers see and act on their district's cases through the
lifecycle; viewers change nothing; private fields only where allowed, every read audited."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.accounts.users import create_user, issue_token
from gateway.models import AuditEntry, Event, Message, Officer, Referral
from gateway.runtime import Runtime
from tests.admin.conftest import PASSWORD
from tests.admin.pages import logged_in, post
from tests.cases import (
    NYARUGENGE_VILLAGE,
    REPORTER_PHONE,
    insert_case,
    reference,
    sent_to_nyarugenge_then_moved_to_gasabo,
)
from tests.helpers import SOCIAL_WORKER, register_officers


def _audit(rt: Runtime, actor: str) -> list[tuple[str, str]]:
    with rt.db.reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor == actor).order_by(AuditEntry.id))
        return [(a.action, a.detail) for a in rows]


def test_an_officer_sees_only_their_district_and_another_districts_case_is_404(app: Flask, rt: Runtime) -> None:
    insert_case(rt, 1, details="Beaten at home", callback_ok=True)  # Rusizi
    insert_case(rt, 2, NYARUGENGE_VILLAGE)
    officer = logged_in(app, rt, "olive@example.org", "officer", "Rusizi")

    page = officer.get("/admin/cases").get_data(as_text=True)
    assert reference(1) in page and reference(2) not in page
    assert officer.get(f"/admin/cases/{reference(2)}").status_code == 404
    assert officer.get("/admin/cases/1234567").status_code == 404  # not a reference at all

    case = officer.get(f"/admin/cases/{reference(1)}").get_data(as_text=True)
    assert "Beaten at home" in case and REPORTER_PHONE in case
    assert ("read_referral_private", "shown in the admin web: details, reporter_phone") in _audit(
        rt, "olive@example.org"
    )

    sheet = load_workbook(io.BytesIO(officer.get("/admin/cases/export.xlsx?private=1").data)).active
    assert sheet is not None
    references = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert references == [reference(1)]
    actions = [a for a, _ in _audit(rt, "olive@example.org")]
    assert "export_cases" in actions and actions.count("read_referral_private") == 2


def test_a_viewer_reads_without_private_fields_and_every_change_is_refused(app: Flask, rt: Runtime) -> None:
    insert_case(rt, 1, details="Beaten at home")
    viewer = logged_in(app, rt, "vic@example.org", "viewer")
    case = viewer.get(f"/admin/cases/{reference(1)}").get_data(as_text=True)
    assert "Beaten at home" not in case and "not shown to your role" in case and "Acknowledge" not in case
    for action in ("acknowledge", "close", "note"):
        response = post(viewer, f"/admin/cases/{reference(1)}/{action}", {"outcome": "other", "note": "x"})
        assert response.status_code == 403  # type: ignore[attr-defined]
    with rt.db.reading() as session:
        assert session.scalars(select(Referral)).one().status == "routed"
    # The private export is not given to a viewer even when asked for.
    data = viewer.get("/admin/cases/export.csv?private=1").data.decode("utf-8-sig")
    assert "Details" not in data and reference(1) in data


def test_an_officer_acknowledges_notes_and_closes_a_case_on_its_timeline(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    referral_id = insert_case(rt, 1, NYARUGENGE_VILLAGE)
    officer = logged_in(app, rt, "olive@example.org", "officer", "Nyarugenge")
    url = f"/admin/cases/{reference(1)}"
    assert post(officer, url + "/acknowledge").status_code == 302  # type: ignore[attr-defined]
    post(officer, url + "/note", {"note": "Visited the family with the IZU"})
    response: Any = post(officer, url + "/close", {"outcome": "referred", "note": "Isange"})
    assert response.status_code == 302
    page = officer.get(url).get_data(as_text=True)
    assert "Visited the family with the IZU" in page and "Referred to services" in page
    with rt.db.reading() as session:
        referral = session.get_one(Referral, referral_id)
        events = session.scalars(select(Event).where(Event.referral_id == referral_id).order_by(Event.id)).all()
    assert (referral.status, referral.outcome) == ("closed", "referred")
    assert [(e.kind, e.actor) for e in events] == [
        ("acknowledged", "user:olive@example.org"),
        ("noted", "user:olive@example.org"),
        ("closed", "user:olive@example.org"),
    ]
    assert [d for a, d in _audit(rt, "olive@example.org") if a == "case_changed"] == [
        "acknowledged",
        "note added",
        "closed: Referred to services",
    ]
    # Closing twice: a polite refusal, nothing changed.
    again = post(officer, url + "/close", {"outcome": "other"})
    assert again.status_code == 302  # type: ignore[attr-defined]
    assert "already closed" in officer.get(url).get_data(as_text=True)


def test_an_admin_reassigns_and_transfers_a_case_and_the_alerts_go_out(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    insert_case(rt, 1, NYARUGENGE_VILLAGE)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    url = f"/admin/cases/{reference(1)}"
    page = admin.get(url).get_data(as_text=True)
    assert "District Supervisor" in page
    supervisor = re.search(r'<option value="(\d+)">District Supervisor', page)
    assert supervisor is not None
    post(admin, url + "/reassign", {"officer": supervisor.group(1)})
    gasabo = re.search(r'<option value="(\d+)">Gasabo</option>', page)
    assert gasabo is not None
    post(admin, url + "/transfer", {"district": gasabo.group(1)})
    with rt.db.reading() as session:
        sent = session.scalars(select(Message.to).order_by(Message.id)).all()
        referral = session.scalars(select(Referral)).one()
    assert sent == ["+250788000333", "+250788000555"]  # the supervisor, then Gasabo's officer
    assert referral.district_id == int(gasabo.group(1))


def test_bad_filters_are_told_politely_and_the_list_pages(app: Flask, rt: Runtime) -> None:
    for n in range(30):
        insert_case(rt, n, urgent=n % 2 == 0)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    response = admin.get("/admin/cases?from=yesterday")
    assert response.status_code == 200 and "From must be a date" in response.get_data(as_text=True)
    first = admin.get("/admin/cases?urgency=urgent").get_data(as_text=True)
    assert first.count('class="row-link"') == 15 and "Older" not in first
    everything = admin.get("/admin/cases").get_data(as_text=True)
    assert everything.count('class="row-link"') == 25 and "Older" in everything
    assert admin.get("/admin/cases?page=2").get_data(as_text=True).count('class="row-link"') == 5


def test_an_officer_links_confirms_and_undoes_a_possible_duplicate(app: Flask, rt: Runtime) -> None:
    first, second = insert_case(rt, 1), insert_case(rt, 2)
    officer = logged_in(app, rt, "olive@example.org", "officer", "Rusizi")
    url = f"/admin/cases/{reference(2)}"
    post(officer, url + "/link", {"earlier": reference(1)})
    assert "Possibly the same as\n      <a" in officer.get(url).get_data(as_text=True)
    post(officer, url + "/confirm")
    with rt.db.reading() as session:
        linked = session.get_one(Referral, second)
        assert (linked.duplicate_of_id, linked.duplicate_confirmed) == (first, True)
    post(officer, url + "/unlink")
    post(officer, url + "/unlink")  # nothing left to undo: said politely
    assert "not linked to another one" in officer.get(url).get_data(as_text=True)
    with rt.db.reading() as session:
        kinds = session.scalars(select(Event.kind).where(Event.referral_id == first).order_by(Event.id)).all()
    assert kinds == ["linked", "confirmed", "unlinked"]


def test_an_officer_linked_to_the_registry_sees_a_case_sent_to_them_from_another_district_and_acts_as_that_officer(
    app: Flask, rt: Runtime
) -> None:
    referral_id = sent_to_nyarugenge_then_moved_to_gasabo(rt)
    linked = logged_in(app, rt, "sw@example.org", "officer", None, officer=SOCIAL_WORKER)
    url = f"/admin/cases/{reference(1)}"

    assert reference(1) in linked.get("/admin/cases").get_data(as_text=True)
    case = linked.get(url).get_data(as_text=True)
    assert "Locked in at night" in case  # an officer it was sent to follows it up: private fields shown
    assert "You act as the officer <strong>On Duty Social Worker</strong>" in case
    rows = load_workbook(io.BytesIO(linked.get("/admin/cases/export.xlsx").data)).active
    assert rows is not None and [r[0].value for r in rows.iter_rows(min_row=2)] == [reference(1)]

    post(linked, url + "/acknowledge")
    post(linked, url + "/note", {"note": "Spoke to Gasabo's officer"})
    page = linked.get(url).get_data(as_text=True)
    assert "Acknowledged</dt><dd>" in page and "by On Duty Social Worker</dd>" in page
    assert "<strong>acknowledged</strong> · On Duty Social Worker (social worker) — by admin web" in page
    with rt.db.reading() as session:
        referral = session.get_one(Referral, referral_id)
        officer_id = session.scalars(select(Officer.id).where(Officer.phone == SOCIAL_WORKER)).one()
        events = session.scalars(select(Event).where(Event.referral_id == referral_id).order_by(Event.id)).all()
    assert (referral.status, referral.acknowledged_by_id) == ("acknowledged", officer_id)
    assert [(e.kind, e.actor) for e in events][-2:] == [
        ("acknowledged", f"officer:{officer_id}"),
        ("noted", f"officer:{officer_id}"),
    ]
    # The audit log still names the person.
    assert [d for a, d in _audit(rt, "sw@example.org") if a == "case_changed"] == ["acknowledged", "note added"]

    post(linked, url + "/close", {"outcome": "family_supported"})
    closed = linked.get(url).get_data(as_text=True)
    assert "Case " + reference(1) + ": closed: Family supported." in closed  # the banner, as the form says it
    assert ": Family supported</dd>" in closed and "outcome Family supported" in closed
    assert "family_supported" not in closed.replace('value="family_supported"', "")
    data = linked.get("/admin/cases/export.csv").data.decode("utf-8-sig")
    assert data.splitlines()[1].endswith(",Family supported")


def test_the_same_case_is_404_to_an_unlinked_officer_of_the_district_it_left_and_to_another_district(
    app: Flask, rt: Runtime
) -> None:
    sent_to_nyarugenge_then_moved_to_gasabo(rt)
    for email, district in (("nyarugenge@example.org", "Nyarugenge"), ("rusizi@example.org", "Rusizi")):
        other = logged_in(app, rt, email, "officer", district)
        assert other.get(f"/admin/cases/{reference(1)}").status_code == 404
        assert reference(1) not in other.get("/admin/cases").get_data(as_text=True)
        assert reference(1) not in other.get("/admin/cases/export.csv").data.decode("utf-8-sig")
        refused = post(other, f"/admin/cases/{reference(1)}/acknowledge")
        assert refused.status_code == 404  # type: ignore[attr-defined]
    # Gasabo's own officer (not linked) sees it, and acts as themselves, as before.
    gasabo = logged_in(app, rt, "gasabo@example.org", "officer", "Gasabo")
    assert "Ask an administrator to link your account" in gasabo.get(f"/admin/cases/{reference(1)}").get_data(
        as_text=True
    )
    post(gasabo, f"/admin/cases/{reference(1)}/acknowledge")
    with rt.db.reading() as session:
        referral = session.scalars(select(Referral)).one()
        actor = session.scalars(select(Event.actor).order_by(Event.id.desc())).first()
    assert (referral.status, referral.acknowledged_by_id, actor) == ("acknowledged", None, "user:gasabo@example.org")


def test_the_api_lists_and_opens_a_case_sent_to_the_linked_officer_and_nothing_else_of_that_district(
    app: Flask, rt: Runtime
) -> None:
    sent_to_nyarugenge_then_moved_to_gasabo(rt)
    insert_case(rt, 2, ("Gasabo", "Remera", "Rukiri I", "Amajyambere"))
    create_user(rt, "sw@example.org", PASSWORD, "officer", officer=SOCIAL_WORKER)
    create_user(rt, "nyarugenge@example.org", PASSWORD, "officer", "Nyarugenge")
    client = app.test_client()

    def seen(email: str) -> tuple[list[str], int]:
        token = {"Authorization": f"Bearer {issue_token(rt, email)}"}
        listed = client.get("/api/v1/referrals", headers=token).get_json()["items"]
        return [r["reference"] for r in listed], client.get(
            f"/api/v1/referrals/{reference(1)}", headers=token
        ).status_code

    assert seen("sw@example.org") == ([reference(1)], 200)
    assert seen("nyarugenge@example.org") == ([], 404)


def test_an_admin_linked_to_an_officer_acts_as_that_officer_only_where_the_officer_may_act(
    app: Flask, rt: Runtime
) -> None:
    register_officers(rt)
    insert_case(rt, 1, NYARUGENGE_VILLAGE)
    insert_case(rt, 2)  # Rusizi: never sent to the Nyarugenge social worker
    admin = logged_in(app, rt, "ada@example.org", "admin", officer=SOCIAL_WORKER)
    assert "You act as yourself (ada@example.org)" in admin.get(f"/admin/cases/{reference(2)}").get_data(as_text=True)
    for n in (1, 2):
        post(admin, f"/admin/cases/{reference(n)}/acknowledge")
    with rt.db.reading() as session:
        officer_id = session.scalars(select(Officer.id).where(Officer.phone == SOCIAL_WORKER)).one()
        taken = {r.reference: r.acknowledged_by_id for r in session.scalars(select(Referral))}
        actors = session.scalars(select(Event.actor).order_by(Event.id)).all()
    assert taken == {reference(1): officer_id, reference(2): None}
    assert actors == [f"officer:{officer_id}", "user:ada@example.org"]
