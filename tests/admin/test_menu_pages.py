"""The menu editor's pages over the test client: drafts, saves, publish, restore, preview."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.models import AuditEntry, MenuDraft
from gateway.runtime import Runtime
from menus import editing
from menus.tree import default_tree
from tests.admin.conftest import csrf_token
from tests.helpers import COMMUNITY_PHONE, Dial


def _open_draft(client: FlaskClient) -> tuple[int, str]:
    page = client.get("/admin/menus").get_data(as_text=True)
    response = client.post("/admin/menus/drafts", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return draft_id, page


def _node_form(page: str) -> dict[str, str]:
    """The node form's fields as the browser would send them (checked boxes only)."""
    form = page.split('id="node-form"', 1)[1].split("</form>", 1)[0]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<(?:input|select|textarea)[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                fields[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        fields[name.group(1)] = value.group(1) if value else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = text.replace("&#39;", "'").replace("&amp;", "&")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r"<option(?: value=\"([^\"]*)\")? selected>([^<]*)<", body)
        fields[name] = (chosen.group(1) if chosen.group(1) is not None else chosen.group(2)) if chosen else ""
    return fields


def test_an_admin_opens_a_draft_edits_a_node_and_publishes_it(
    login: Callable[..., FlaskClient], rt: Runtime, client: FlaskClient
) -> None:
    login("admin")
    draft_id, page = _open_draft(client)
    fields = _node_form(page)
    assert fields["text.en"] == "Ijwi - Child protection"
    fields["text.en"] = "Ijwi - Keep children safe"
    response = client.post(f"/admin/menus/drafts/{draft_id}/nodes/main_volunteer", data=fields)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved. The draft passes every check." in page
    assert "Ijwi - Keep children safe" in page

    response = client.post(f"/admin/menus/drafts/{draft_id}/publish", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert "Published as v1" in client.get("/admin/menus").get_data(as_text=True)
    # The draft is gone; the change is live for a new session, through the webhook.
    with rt.db.reading() as db:
        assert db.scalars(select(MenuDraft)).all() == []
        actions = [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["menu_draft_created", "menu_draft_saved", "menu_published"]


def test_a_too_long_french_text_is_not_saved_and_the_reason_is_shown(
    login: Callable[..., FlaskClient], client: FlaskClient
) -> None:
    login("admin")
    draft_id, _ = _open_draft(client)
    page = client.get(f"/admin/menus/drafts/{draft_id}?node=category").get_data(as_text=True)
    fields = _node_form(page)
    fields["text.fr"] = "Que se passe-t-il ? " * 8
    response = client.post(f"/admin/menus/drafts/{draft_id}/nodes/category", data=fields)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r"Not saved: node category page \d \(fr\): \d+ characters, over 182", body)
    saved = client.get(f"/admin/menus/drafts/{draft_id}?node=category").get_data(as_text=True)
    assert "Que se passe-t-il ? Que se passe" not in saved


def test_removing_the_age_question_makes_publishing_refused_with_the_reason(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    login("admin")
    draft_id, page = _open_draft(client)
    response = client.post(f"/admin/menus/drafts/{draft_id}/nodes/age/delete", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "without its age band (age_band)" in page
    response = client.post(f"/admin/menus/drafts/{draft_id}/publish", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 422
    assert "Not published: node confirm option 1: a volunteer caller can send a report here without its age band" in (
        response.get_data(as_text=True)
    )
    assert rt.menus.versions() == []


def test_a_viewer_reads_the_editor_but_cannot_publish_or_save(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    from gateway.ussd import drafts

    draft = drafts.open_draft(rt, rt.menus.active().version, "admin@example.org")
    login("viewer")
    page = client.get(f"/admin/menus/drafts/{draft.id}").get_data(as_text=True)
    assert "Publish</button>" not in page
    token = csrf_token(page)
    assert client.post(f"/admin/menus/drafts/{draft.id}/publish", data={"csrf_token": token}).status_code == 403
    remove = client.post(f"/admin/menus/drafts/{draft.id}/nodes/age/delete", data={"csrf_token": token})
    assert remove.status_code == 403
    assert rt.menus.versions() == []


def test_the_preview_and_the_webhook_give_the_same_screens(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    login("admin")
    page = client.get("/admin/menus").get_data(as_text=True)
    from gateway.ussd import drafts

    draft = drafts.open_draft(rt, rt.menus.active().version, "admin@example.org")
    # A community caller in Kinyarwanda (the default): report, go back, page on, pick a place.
    inputs = ["1", "2", "0", "3", "1", "3", "2", "98", "0", "1", "1", "1", "1", "1"]
    response = client.post(
        f"/admin/menus/preview/d{draft.id}",
        json={"caller": "community", "lang": "rw", "inputs": inputs},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status_code == 200
    previewed = [s["reply"] for s in response.get_json()["screens"]]
    dial = Dial(client, COMMUNITY_PHONE)
    webhook = [dial.screen] + [dial.send(i) for i in inputs]
    assert previewed == webhook
    assert len(set(webhook)) > 8  # the dial went somewhere


def test_the_preview_writes_nothing_and_shows_a_sample_reference(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    login("admin")
    page = client.get("/admin/menus").get_data(as_text=True)
    inputs = ["1", "1", "2", "1", "1", "1", "1", "1", "1", "1", "0", "1", "1"]
    response = client.post(
        "/admin/menus/preview/shipped",
        json={"caller": "volunteer", "lang": "en", "inputs": inputs},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    screens = response.get_json()["screens"]
    assert screens[-1]["end"] and "Reference: 0000000" in screens[-1]["reply"]
    assert screens[-1]["pretended"] == ["submit_report"]
    from gateway.models import Report

    with rt.db.reading() as db:
        assert db.scalars(select(Report)).all() == []


def test_a_preview_without_the_csrf_header_is_refused(login: Callable[..., FlaskClient], client: FlaskClient) -> None:
    login("admin")
    response = client.post("/admin/menus/preview/shipped", json={"caller": "community", "lang": "en", "inputs": []})
    assert response.status_code == 400


def test_restore_publishes_an_earlier_version_again_as_a_new_one_and_keeps_the_history(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    data = editing.load(rt.menus.active().source)
    rt.menus.publish(editing.dump(data), 182, by="cli")
    data["nodes"]["main_community"]["text"]["en"] = "Ijwi - Report a concern"
    rt.menus.publish(editing.dump(data), 182, by="cli")
    login("admin")
    page = client.get("/admin/menus").get_data(as_text=True)
    response = client.post("/admin/menus/versions/1/restore", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    active = rt.menus.active()
    assert [v.id for v in rt.menus.versions() if v.active] == [3]
    assert active.nodes["main_community"].text["en"] == "Ijwi - Child protection"
    history = [(h.kind, h.version_id, h.restored_from, h.by) for h in rt.menus.history()]
    assert history == [
        ("restore", 3, 1, "admin@example.org"),
        ("publish", 2, None, "cli"),
        ("publish", 1, None, "cli"),
    ]
    page = client.get("/admin/menus").get_data(as_text=True)
    assert "v1 restored as v3." in page and "Restored v1 as v3" in page
    # The same content as v1: comparing them shows no change.
    assert "No difference." in client.get("/admin/menus/diff?a=v1&b=v3").get_data(as_text=True)


def test_the_diff_shows_each_changed_text_per_node_and_language(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    data = editing.load(rt.menus.active().source)
    rt.menus.publish(editing.dump(data), 182, by="cli")
    data["nodes"]["sex"]["text"]["fr"] = "Fille ou garcon ?"
    rt.menus.publish(editing.dump(data), 182, by="cli")
    login("viewer")
    page = client.get("/admin/menus/diff?a=v1&b=v2").get_data(as_text=True)
    assert "Node sex" in page and "screen text" in page
    assert "<ins>Fille ou garcon ?</ins>" in page
    assert "Node age" not in page


def test_json_of_the_preview_is_polite_about_a_broken_tree(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    from gateway.ussd import drafts

    draft = drafts.open_draft(rt, rt.menus.active().version, "admin@example.org")
    data = editing.load(draft.source)
    data["start"]["community"] = "nowhere"
    drafts.save(rt, draft.id, data, "admin@example.org")
    login("admin")
    page = client.get("/admin/menus").get_data(as_text=True)
    response = client.post(
        f"/admin/menus/preview/d{draft.id}",
        data=json.dumps({"caller": "community", "lang": "en", "inputs": []}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status_code == 422 and "cannot dial" in response.get_json()["error"]


def test_the_command_line_refuses_a_tree_without_the_age_question(runner: Any, tmp_path: Any) -> None:
    data = editing.load(default_tree().source)
    editing.remove_node(data, "age")
    path = tmp_path / "no-age.yaml"
    path.write_text(editing.dump(data), encoding="utf-8")
    result = runner.invoke(args=["menus", "validate", str(path)])
    assert result.exit_code == 1
    assert "without its age band (age_band)" in result.output
    result = runner.invoke(args=["menus", "publish", str(path)])
    assert result.exit_code != 0 and "not published" in result.output


def _preview(client: FlaskClient, ref: str, caller: str, lang: str, inputs: list[str]) -> list[str]:
    page = client.get("/admin/menus").get_data(as_text=True)
    response = client.post(
        f"/admin/menus/preview/{ref}",
        json={"caller": caller, "lang": lang, "inputs": inputs},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return [s["reply"] for s in response.get_json()["screens"]]


def test_the_preview_of_a_volunteer_in_french_matches_the_webhook(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    from gateway.registry import imports
    from gateway.ussd.preview import preview_home

    home = rt.places.get(int(preview_home(rt)["id"]))
    assert home is not None
    path = []
    place = home
    while place is not None and place.level != "province":
        path.append(place.name)
        place = rt.places.get(place.parent_id) if place.parent_id else None
    village, cell, sector, district = path
    imports.import_volunteers(
        rt,
        "name,phone,district,sector,cell,village,language\n"
        f"Test Volunteer,+250788123456,{district},{sector},{cell},{village},fr\n",
    )
    login("admin")
    # Report: category, danger, age, sex, then the place: my village, back, 00 to the menu, then a visit.
    inputs = ["1", "3", "1", "2", "2", "0", "00", "2", "ABC-12", "1", "2", "0", "1"]
    previewed = _preview(client, "shipped", "volunteer", "fr", inputs)
    dial = Dial(client, "+250788123456")
    assert previewed == [dial.screen] + [dial.send(i) for i in inputs]
    assert f"({village})" in previewed[5]


def test_a_call_in_progress_finishes_on_its_version_while_new_calls_get_the_new_one(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    dial = Dial(client, COMMUNITY_PHONE)
    dial.send("3")  # the language menu
    dial.send("2")  # English: the main menu again, in English
    assert dial.screen.startswith("CON Ijwi - Child protection")
    data = editing.load(rt.menus.active().source)
    data["nodes"]["main_community"]["text"]["en"] = "Ijwi - Keep a child safe"
    data["nodes"]["category"]["text"]["en"] = "What happened?"
    rt.menus.publish(editing.dump(data), 182, by="admin@example.org")
    assert dial.send("1").startswith("CON What is happening?")  # the old version, to the end
    assert Dial(client, COMMUNITY_PHONE).screen.startswith("CON Ijwi - Keep a child safe")


def test_an_admin_adds_a_node_and_an_option_and_removes_an_option(
    login: Callable[..., FlaskClient], client: FlaskClient
) -> None:
    login("admin")
    draft_id, page = _open_draft(client)
    token = csrf_token(page)
    response = client.post(
        f"/admin/menus/drafts/{draft_id}/nodes", data={"csrf_token": token, "node_id": "school_kind", "type": "menu"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "node school_kind: cannot be reached from a start node" in page
    assert "node school_kind text: no en text" not in page  # structure first, texts later

    fields = _node_form(client.get(f"/admin/menus/drafts/{draft_id}?node=language").get_data(as_text=True))
    fields["add_option"] = "1"
    client.post(f"/admin/menus/drafts/{draft_id}/nodes/language", data=fields)
    fields = _node_form(client.get(f"/admin/menus/drafts/{draft_id}?node=language").get_data(as_text=True))
    assert fields["opt_count"] == "4" and fields["opt.3.key"] == "4"
    fields["opt.3.remove"] = "on"
    fields["opt.0.remove"] = "on"  # Kinyarwanda goes too
    client.post(f"/admin/menus/drafts/{draft_id}/nodes/language", data=fields)
    fields = _node_form(client.get(f"/admin/menus/drafts/{draft_id}?node=language").get_data(as_text=True))
    assert fields["opt_count"] == "2"
    assert [fields["opt.0.label.en"], fields["opt.1.label.en"]] == ["English", "Francais"]


def test_a_login_page_offers_no_way_to_another_site(make_user: Any, client: FlaskClient) -> None:
    from tests.admin.conftest import PASSWORD

    make_user("admin@example.org", "admin")
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login",
        data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/admin/"


def test_a_draft_of_an_older_version_warns_before_it_replaces_the_active_one(
    login: Callable[..., FlaskClient], client: FlaskClient, rt: Runtime
) -> None:
    login("admin")
    draft_id, page = _open_draft(client)
    assert "is active now" not in page
    data = editing.load(rt.menus.active().source)
    data["nodes"]["age"]["text"]["en"] = "How old is the child?"
    rt.menus.publish(editing.dump(data), 182, by="someone@example.org")
    page = client.get(f"/admin/menus/drafts/{draft_id}").get_data(as_text=True)
    assert "This draft was opened from the shipped menu; v1 is active now." in page


def test_the_strings_page_saves_a_shared_string_and_its_review_status(
    login: Callable[..., FlaskClient], client: FlaskClient
) -> None:
    login("admin")
    draft_id, _ = _open_draft(client)
    page = client.get(f"/admin/menus/drafts/{draft_id}?node=__strings__").get_data(as_text=True)
    fields = _node_form(page)
    assert fields["strings.more.fr"] == "Suite" and fields["review:strings.more.rw"] == "on"
    fields["strings.more.fr"] = "Plus"
    del fields["review:strings.more.rw"]  # a native speaker checked it
    response = client.post(f"/admin/menus/drafts/{draft_id}/nodes/__strings__", data=fields)
    assert response.status_code == 302
    fields = _node_form(client.get(f"/admin/menus/drafts/{draft_id}?node=__strings__").get_data(as_text=True))
    assert fields["strings.more.fr"] == "Plus" and "review:strings.more.rw" not in fields
    assert "rw: 94 to review" in client.get(f"/admin/menus/drafts/{draft_id}").get_data(as_text=True)


def test_a_spreadsheet_round_trip_keeps_a_text_that_starts_with_an_equals_sign(rt: Runtime) -> None:
    from gateway.ussd import translations

    data = editing.load(default_tree().source)
    data["strings"]["more"]["en"] = "=1+1 more"
    rows = translations.read_file("t.xlsx", translations.export_xlsx(data))
    assert translations.Row("strings.more", "en", "=1+1 more", False) in rows


def test_the_preview_dials_an_unsaved_edit_without_saving_it(
    login: Callable[..., FlaskClient], client: FlaskClient
) -> None:
    login("admin")
    draft_id, page = _open_draft(client)
    fields = _node_form(page)
    fields["text.en"] = "Ijwi - Typed, not saved"
    del fields["csrf_token"]
    response = client.post(
        f"/admin/menus/preview/d{draft_id}",
        json={"caller": "volunteer", "lang": "en", "inputs": [], "edit": {"node": "main_volunteer", "fields": fields}},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.get_json()["screens"][0]["reply"].startswith("CON Ijwi - Typed, not saved")
    assert "Typed, not saved" not in client.get(f"/admin/menus/drafts/{draft_id}").get_data(as_text=True)
