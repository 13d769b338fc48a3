"""The registry and the users in the admin web: on duty in one click, a CSV previewed before
anything is committed, volunteers found and deactivated, users managed by admins only."""

from __future__ import annotations

import io
import re

from flask import Flask
from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Message, Officer, Referral, User, Volunteer
from gateway.referrals import lifecycle
from gateway.runtime import Runtime
from tests.admin.conftest import csrf_token
from tests.admin.pages import logged_in, post
from tests.cases import NYARUGENGE_VILLAGE, insert_case
from tests.helpers import OFFICERS_CSV, VOLUNTEER_PHONE, register_officers, register_volunteer

GOOD_FILE = OFFICERS_CSV.splitlines()[0] + "\nNew Officer,+250788000888,social_worker,Rusizi,,yes,en\n"
BAD_FILE = GOOD_FILE + "Nobody,not-a-phone,social_worker,Rusizi,,yes,en\n"


def _officer_id(rt: Runtime, phone: str) -> int:
    with rt.db.reading() as session:
        return session.scalars(select(Officer.id).where(Officer.phone == phone)).one()


def test_an_officer_switched_off_duty_gets_no_next_alert(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    page = admin.get("/admin/registry").get_data(as_text=True)
    assert "On Duty Social Worker" in page
    # Nyarugenge's on-duty case officers: the social worker (…111) and the psychologist (…222).
    url = f"/admin/registry/officers/{_officer_id(rt, '+250788000111')}/duty"
    assert post(admin, url, page="/admin/registry").status_code == 302  # type: ignore[attr-defined]
    assert "On Duty Social Worker is now off duty" in admin.get("/admin/registry").get_data(as_text=True)
    referral_id = insert_case(rt, 1, NYARUGENGE_VILLAGE, status="new")
    with rt.db.transaction() as session:
        lifecycle.route(rt, session, session.get_one(Referral, referral_id), utcnow())
    with rt.db.reading() as session:
        alerted = session.scalars(select(Message.to).where(Message.referral_id == referral_id)).all()
    assert alerted == ["+250788000222"]


def test_a_file_with_a_bad_line_is_previewed_and_nothing_is_committed(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    token = csrf_token(admin.get("/admin/registry/upload").get_data(as_text=True))
    data = {"kind": "officers", "file": (io.BytesIO(BAD_FILE.encode()), "officers.csv"), "csrf_token": token}
    response = admin.post("/admin/registry/upload", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert (
        "1 added" in page
        and "1 refused" in page
        and "line 3: &#39;not-a-phone&#39; is not a valid phone number" in page
    )
    assert "Nothing will be saved" in page and "Save these changes" not in page
    with rt.db.reading() as session:
        assert session.scalars(select(Officer)).all() == []


def test_a_good_file_is_previewed_then_committed(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    preview = post(
        admin, "/admin/registry/upload", {"kind": "officers", "content": GOOD_FILE}, "/admin/registry/upload"
    )
    assert "Save these changes" in preview.get_data(as_text=True)  # type: ignore[attr-defined]
    with rt.db.reading() as session:
        assert session.scalars(select(Officer)).all() == []
    post(admin, "/admin/registry/upload", {"kind": "officers", "content": GOOD_FILE, "commit": "1"}, "/admin/registry")
    with rt.db.reading() as session:
        assert [o.name for o in session.scalars(select(Officer))] == ["New Officer"]
    again = post(admin, "/admin/registry/upload", {"kind": "officers", "content": GOOD_FILE}, "/admin/registry")
    assert "1 unchanged" in again.get_data(as_text=True)  # type: ignore[attr-defined]


def test_officers_are_added_and_edited_with_polite_refusals(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    form = {"name": "Grace", "phone": "0788000123", "role": "social_worker", "district": "Atlantis", "language": "en"}
    refused = post(admin, "/admin/registry/officers/new", form, "/admin/registry/officers/new")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "no district named" in refused.get_data(as_text=True)  # type: ignore[attr-defined]
    post(admin, "/admin/registry/officers/new", form | {"district": "Rusizi", "on_duty": "1"}, "/admin/registry")
    officer_id = _officer_id(rt, "+250788000123")
    post(admin, f"/admin/registry/officers/{officer_id}", form | {"district": "Rusizi", "name": "Grace U."})
    post(admin, f"/admin/registry/officers/{officer_id}", {"active": "0"})
    with rt.db.reading() as session:
        officer = session.get_one(Officer, officer_id)
    assert (officer.name, officer.on_duty, officer.active) == ("Grace U.", False, False)


def test_volunteers_are_found_by_place_and_deactivated(app: Flask, rt: Runtime) -> None:
    register_volunteer(rt)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    found = admin.get("/admin/registry?district=nyarugenge&sector=Kimisagara").get_data(as_text=True)
    assert "Test Volunteer" in found
    assert "Test Volunteer" not in admin.get("/admin/registry?district=Rusizi").get_data(as_text=True)
    assert "Test Volunteer" in admin.get("/admin/registry?phone=788123456").get_data(as_text=True)
    with rt.db.reading() as session:
        volunteer_id = session.scalars(select(Volunteer.id).where(Volunteer.phone == VOLUNTEER_PHONE)).one()
    post(admin, f"/admin/registry/volunteers/{volunteer_id}/deactivate", page="/admin/registry")
    with rt.db.reading() as session:
        assert session.get_one(Volunteer, volunteer_id).active is False


def test_viewers_do_not_open_the_registry_and_only_admins_manage_users(app: Flask, rt: Runtime) -> None:
    viewer = logged_in(app, rt, "vic@example.org", "viewer")
    assert viewer.get("/admin/registry").status_code == 403
    assert viewer.get("/admin/users").status_code == 403
    admin = logged_in(app, rt, "ada@example.org", "admin")
    form = {"email": "new@example.org", "password": "a long password", "role": "officer", "district": "Rusizi"}
    post(admin, "/admin/users", form, "/admin/users")
    post(admin, "/admin/users/new@example.org/role", {"role": "viewer", "district": ""}, "/admin/users")
    post(admin, "/admin/users/vic@example.org/deactivate", page="/admin/users")
    with rt.db.reading() as session:
        users = {u.email: (u.role, u.active) for u in session.scalars(select(User))}
    assert users["new@example.org"] == ("viewer", True) and users["vic@example.org"] == ("viewer", False)
    assert viewer.get("/admin/cases").status_code == 302  # deactivated: logged out
    refused = post(admin, "/admin/users", form | {"password": "short"}, "/admin/users")
    assert refused.status_code == 302  # type: ignore[attr-defined]
    assert "at least 10 characters" in admin.get("/admin/users").get_data(as_text=True)


def test_an_officer_switches_duty_in_their_district_only_and_edits_nothing_else(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    officer = logged_in(app, rt, "olive@example.org", "officer", "Nyarugenge")
    page = officer.get("/admin/registry").get_data(as_text=True)
    assert "On Duty Social Worker" in page and "Gasabo Officer" not in page and "Add an officer" not in page
    mine = f"/admin/registry/officers/{_officer_id(rt, '+250788000111')}/duty"
    theirs = f"/admin/registry/officers/{_officer_id(rt, '+250788000555')}/duty"
    assert post(officer, mine, page="/admin/registry").status_code == 302  # type: ignore[attr-defined]
    assert post(officer, theirs, page="/admin/registry").status_code == 404  # type: ignore[attr-defined]
    assert officer.get("/admin/registry/officers/new").status_code == 403
    with rt.db.reading() as session:
        duty = dict(session.execute(select(Officer.phone, Officer.on_duty)).all())
    assert (duty["+250788000111"], duty["+250788000555"]) == (False, True)


def test_an_admin_links_a_user_to_the_registry_officer_they_are_and_the_list_shows_it(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    form = {"email": "sw@example.org", "password": "a long password", "role": "officer", "district": ""}
    # Picked from the list (its value is the phone) or typed in any form: the district is the officer's.
    post(admin, "/admin/users", form | {"officer": "0788 000 111"}, "/admin/users")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "sw@example.org created (officer, the officer On Duty Social Worker)." in page
    assert "Registry officer: <strong>On Duty Social Worker</strong>" in page
    assert '<option value="+250788000111">On Duty Social Worker, social worker, Nyarugenge</option>' in page
    with rt.db.reading() as session:
        user = session.scalars(select(User).where(User.email == "sw@example.org")).one()
        assert (user.district.name if user.district else None, user.officer_id) == (
            "Nyarugenge",
            _officer_id(rt, "+250788000111"),
        )

    refusals = {
        "+250788000555": "the officer Gasabo Officer works in Gasabo, not in Nyarugenge",
        "+250788000111": "the officer On Duty Social Worker is already sw@example.org",
        "+250788123000": "no officer with the phone +250788123000 in the registry",
        "not a phone": "&#39;not a phone&#39; is not an officer&#39;s phone number",
    }
    for phone, why in refusals.items():
        post(admin, "/admin/users", form | {"email": "x@example.org", "district": "Nyarugenge", "officer": phone})
        assert f"Not created: {why}." in admin.get("/admin/users").get_data(as_text=True)
    post(admin, "/admin/users", form | {"email": "v@example.org", "role": "viewer", "officer": "+250788000222"})
    assert "a viewer changes nothing, so is linked to no officer" in admin.get("/admin/users").get_data(as_text=True)

    # Editing: the link moves to the psychologist, then is taken away.
    change = {"role": "officer", "district": "Nyarugenge", "officer": "+250788000222"}
    post(admin, "/admin/users/sw@example.org/role", change, "/admin/users")
    assert "Registry officer: <strong>On Duty Psychologist</strong>" in admin.get("/admin/users").get_data(as_text=True)
    post(admin, "/admin/users/sw@example.org/role", change | {"officer": ""}, "/admin/users")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "sw@example.org is now officer of Nyarugenge, linked to no officer." in page
    with rt.db.reading() as session:
        assert session.scalars(select(User.officer_id).where(User.email == "sw@example.org")).one() is None
        assert session.scalars(select(User.email).where(User.email.in_(["x@example.org", "v@example.org"]))).all() == []


def test_the_upload_preview_counts_added_updated_unchanged_and_refused_lines(app: Flask, rt: Runtime) -> None:
    register_officers(rt)
    admin = logged_in(app, rt, "ada@example.org", "admin")
    lines = OFFICERS_CSV.splitlines()
    changed = lines[2].replace(",yes,rw", ",no,rw")  # the psychologist goes off duty
    upload = "\n".join([*lines[:2], changed, *lines[3:5], "Brand New,+250788000888,social_worker,Rusizi,,yes,en"])
    preview = post(admin, "/admin/registry/upload", {"kind": "officers", "content": upload + "\n"}, "/admin/registry")
    text = preview.get_data(as_text=True)  # type: ignore[attr-defined]
    assert re.search(r"1 added</span> · .*>1 updated</span> ·\s+.*>3 unchanged</span> · .*>0 refused", text)
    assert '<td>3</td><td class="updated">updated</td><td>On Duty Psychologist</td>' in text
    bad = upload + "\nNo Phone,,social_worker,Rusizi,,yes,en\n"
    refused = post(admin, "/admin/registry/upload", {"kind": "officers", "content": bad}, "/admin/registry")
    text = refused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert re.search(r"1 added</span> · .*>1 updated</span> ·\s+.*>3 unchanged</span> · .*>1 refused", text)
    assert "line 7: &#39;&#39; is not a valid phone number" in text
    with rt.db.reading() as session:
        assert session.scalars(select(Officer.on_duty).where(Officer.phone == "+250788000222")).one() is True
    post(admin, "/admin/registry/upload", {"kind": "officers", "content": upload, "commit": "1"}, "/admin/registry")
    assert "Imported: 1 added, 1 updated, 3 unchanged." in admin.get("/admin/registry").get_data(as_text=True)


def test_a_page_under_admin_that_does_not_exist_is_an_html_page_and_the_api_keeps_json(app: Flask, rt: Runtime) -> None:
    admin = logged_in(app, rt, "ada@example.org", "admin")
    for url in ("/admin/no-such-page", "/admin/cases/1234567/acknowledge"):
        response = admin.get(url)
        assert response.status_code in (404, 405) and response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "Back to the admin pages" in page and 'href="/admin/static/admin.css' in page
    assert "There is no such page or record." in admin.get("/admin/no-such-page").get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/admin/nothing/here").mimetype == "text/html"
    for url in ("/api/v1/nothing", "/nothing", "/administrator"):
        response = anonymous.get(url)
        assert (response.status_code, response.mimetype) == (404, "application/json"), url
