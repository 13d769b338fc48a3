"""The menu editor: versions, drafts, per-node editing, preview, publish, diff, restore,
and the translations round trip."""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import asdict
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from gateway.accounts import audit
from gateway.admin.auth import EDITORS, READERS, require_role, user
from gateway.admin.base import bp, runtime
from gateway.admin.menu_forms import FormError, apply_node, apply_strings
from gateway.models import MenuDraft, MenuVersion
from gateway.ussd import drafts, preview, translations
from gateway.ussd.catalog import PublishError
from menus import editing
from menus.diff import diff
from menus.engine import NOTICES, PLACE_LABEL_MAX
from menus.gsm import GSM7_BASIC
from menus.texts import Data, review_counts, to_review
from menus.tree import ACTIONS, CALLER_KINDS, INPUT_CHECKS, NODE_TYPES, Tree, TreeError, default_tree, parse_tree
from menus.validate import problem_node, validate, worst_case

# The editor's page of the tree's own strings (not a node).
STRINGS_PAGE = "__strings__"
# Largest translations file accepted, in bytes.
MAX_UPLOAD = 5 * 1024 * 1024
# Words in a problem that a text, not the structure, causes: such a save is refused.
TEXT_PROBLEMS = ("characters, over", "outside the GSM 7-bit alphabet")

Page = str | tuple[str, int] | BaseResponse


def _by() -> str:
    return user().email


def _max_chars() -> int:
    return runtime().settings.ussd_max_chars


def _draft_or_404(draft_id: int) -> MenuDraft:
    try:
        return drafts.get(runtime(), draft_id)
    except drafts.DraftNotFoundError:
        abort(404)


def _problems(data: Data) -> tuple[Tree | None, list[str]]:
    """The tree of data and every problem the validator finds in it."""
    try:
        tree = parse_tree(editing.dump(data))
    except (TreeError, ValueError, TypeError) as exc:
        return None, [str(exc)]
    return tree, validate(tree, _max_chars())


def _audit(action: str, detail: str) -> None:
    with runtime().db.transaction() as session:
        audit.record(session, _by(), action, detail=detail)


# --- versions ---------------------------------------------------------------------------


def _refs() -> list[tuple[str, str]]:
    """Every tree a diff can compare: (ref, label)."""
    rt = runtime()
    refs = [(f"v{v.id}", f"v{v.id}{' (active)' if v.active else ''}") for v in rt.menus.versions()]
    refs.append(("shipped", "shipped default"))
    refs += [(f"d{d.id}", f"draft: {d.name}") for d in drafts.all_drafts(rt)]
    return refs


def _source(ref: str) -> str:
    """The YAML of a version ("v3"), a draft ("d2") or the shipped tree ("shipped")."""
    rt = runtime()
    if ref == "shipped":
        return default_tree().source
    if ref[:1] == "d" and ref[1:].isdigit():
        return _draft_or_404(int(ref[1:])).source
    if ref[:1] == "v" and ref[1:].isdigit():
        with rt.db.reading() as session:
            row = session.get(MenuVersion, int(ref[1:]))
        if row is not None:
            return row.source
    abort(404)


def _version_ref(version: str) -> str:
    """How the pages name a version hash: "v3", or "shipped" for the shipped tree."""
    with runtime().db.reading() as session:
        version_id = session.scalar(select(MenuVersion.id).where(MenuVersion.version == version))
    return f"v{version_id}" if version_id else "shipped"


@bp.app_template_filter("text_label")
def text_label(where: str, with_node: bool = False) -> str:
    """A text id as a person reads it: "option 2 end screen", "string back"."""
    parts = where.split(".")
    if parts[0] == "strings" and len(parts) == 2:
        return f"string {parts[1]}"
    if parts[0] != "nodes" or len(parts) < 3:
        return where
    node = f"{parts[1]}: " if with_node else ""
    names = {"text": "screen text", "end": "end screen", "label": "", "end_urgent": "end screen (in danger)"}
    if parts[2] == "options" and len(parts) == 5:
        return f"{node}option {parts[3]} {names.get(parts[4], parts[4])}".rstrip()
    return node + names.get(parts[2], parts[2])


@bp.get("/menus")
@require_role(*READERS)
def menus() -> Page:
    rt = runtime()
    active = rt.menus.active()
    versions = rt.menus.versions()
    active_row = next((v for v in versions if v.active), None)
    return render_template(
        "admin/menus/index.html",
        section="admin.menus",
        active=active,
        active_row=active_row,
        review=review_counts(editing.load(active.source)),
        versions=versions,
        drafts=drafts.all_drafts(rt),
        history=rt.menus.history(),
        refs=_refs(),
        active_ref=_version_ref(active.version),
    )


@bp.post("/menus/drafts")
@require_role(*EDITORS)
def new_draft() -> Page:
    rt = runtime()
    version = request.form.get("version") or rt.menus.active().version
    try:
        ref = _version_ref(version)
        name = request.form.get("name", "") or f"Draft of {'the shipped menu' if ref == 'shipped' else ref}"
        draft = drafts.open_draft(rt, version, _by(), name)
    except KeyError:
        abort(404)
    _audit(audit.MENU_DRAFT_CREATED, f"draft {draft.id} of {version[:12]}")
    return redirect(url_for("admin.edit_draft", draft_id=draft.id))


@bp.post("/menus/drafts/<int:draft_id>/delete")
@require_role(*EDITORS)
def delete_draft(draft_id: int) -> Page:
    draft = _draft_or_404(draft_id)
    drafts.delete(runtime(), draft_id)
    _audit(audit.MENU_DRAFT_DELETED, f"draft {draft_id} {draft.name}")
    flash(f"Draft “{draft.name}” deleted.")
    return redirect(url_for("admin.menus"))


@bp.post("/menus/versions/<int:version_id>/restore")
@require_role(*EDITORS)
def restore_version(version_id: int) -> Page:
    rt = runtime()
    with rt.db.reading() as session:
        row = session.get(MenuVersion, version_id)
    if row is None:
        abort(404)
    try:
        tree = rt.menus.restore(row.version, by=_by(), max_chars=_max_chars())
    except PublishError as exc:
        flash(f"v{row.id} cannot be restored: it fails today's checks: {'; '.join(exc.problems[:5])}", "error")
        return redirect(url_for("admin.menus"))
    new = _version_ref(tree.version)
    _audit(audit.MENU_RESTORED, f"v{row.id} as {new} {tree.version[:12]}")
    flash(f"v{row.id} restored as {new}. New sessions start on it; calls in progress finish on theirs.")
    return redirect(url_for("admin.menus"))


@bp.get("/menus/diff")
@require_role(*READERS)
def diff_versions() -> Page:
    a, b = request.args.get("a", "shipped"), request.args.get("b", "shipped")
    changes = diff(editing.load(_source(a)), editing.load(_source(b)))
    return render_template("admin/menus/diff.html", section="admin.menus", a=a, b=b, refs=_refs(), changes=changes)


# --- the editor -------------------------------------------------------------------------


def _screen_data(tree: Tree | None, data: Data, node_id: str) -> dict[str, Any]:
    """What the page's script needs to count a node's screen as the engine lays it out."""
    langs: dict[str, Any] = {}
    strings = data.get("strings") or {}
    node = (data.get("nodes") or {}).get(node_id) or {}
    names: set[str] = set()
    for field in ("text", "end"):
        for text in (node.get(field) or {}).values():
            names.update(part.split("}")[0] for part in str(text).split("{")[1:])
    for option in node.get("options") or []:
        for field in ("end", "end_urgent"):
            for text in (option.get(field) or {}).values():
                names.update(part.split("}")[0] for part in str(text).split("{")[1:])
    for lang in data.get("languages") or []:

        def text(key: str, lang: str = lang) -> str:
            return str((strings.get(key) or {}).get(lang, ""))

        worst = {}
        for name in names:
            try:
                worst[name] = len(worst_case(tree, lang, "{" + name + "}")) if tree else 20
            except (KeyError, ValueError):
                worst[name] = 20
        langs[lang] = {
            "room": max((len(text(n)) for n in NOTICES), default=0) + 1,
            "back": text("back"),
            "more": "98. " + text("more"),
            "my_village": "1. " + text("my_village") + " (" + "x" * PLACE_LABEL_MAX + ")",
            "another_place": "2. " + text("another_place"),
            "worst": worst,
        }
    starts = set((data.get("start") or {}).values())
    return {
        "max": _max_chars(),
        "type": node.get("type", "menu"),
        "back": node_id not in starts,
        "langs": langs,
        "gsm": "".join(sorted(GSM7_BASIC)),
    }


def _editor(draft: MenuDraft, data: Data, node_id: str, error: list[str] | None = None, status: int = 200) -> Page:
    tree, problems = _problems(data)
    by_node: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        node = problem_node(problem)
        (by_node.setdefault(node, []) if node else general).append(problem)
    nodes = data.get("nodes") or {}
    if node_id != STRINGS_PAGE and node_id not in nodes:
        abort(404)
    page = render_template(
        "admin/menus/editor.html",
        section="admin.menus",
        draft=draft,
        base_ref=_version_ref(draft.base_version),
        active_ref=_version_ref(runtime().menus.active().version),
        data=data,
        node_id=node_id,
        node=nodes.get(node_id),
        strings_page=STRINGS_PAGE,
        langs=list(data.get("languages") or []),
        problems=[(p, problem_node(p)) for p in problems],
        by_node=by_node,
        general=general,
        error=error or [],
        review=review_counts(data),
        pending={f"{tid}.{lang}" for tid, lang in to_review(data)},
        screen=_screen_data(tree, data, node_id),
        node_ids=list(nodes),
        node_types=NODE_TYPES,
        actions=ACTIONS,
        checks=INPUT_CHECKS,
        caller_kinds=CALLER_KINDS,
        may_edit=user().may_edit,
        max_chars=_max_chars(),
    )
    return (page, status) if status != 200 else page


@bp.get("/menus/drafts/<int:draft_id>")
@require_role(*READERS)
def edit_draft(draft_id: int) -> Page:
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    node_id = request.args.get("node") or (data.get("start") or {}).get("volunteer") or next(iter(data["nodes"]))
    return _editor(draft, data, node_id)


def _save(draft: MenuDraft, before: Data, after: Data, node_id: str, what: str) -> Page:
    """Keep after unless it makes a text too long or not GSM-7 (then show why, unsaved)."""
    _, old = _problems(before)
    _, new = _problems(after)
    refused = [p for p in new if p not in old and any(w in p for w in TEXT_PROBLEMS)]
    if refused:
        return _editor(draft, after, node_id, error=["Not saved: " + p for p in refused], status=422)
    drafts.save(runtime(), draft.id, after, _by())
    _audit(audit.MENU_DRAFT_SAVED, f"draft {draft.id} {what}")
    if new:
        flash(f"Saved. {len(new)} problem(s) to fix before this draft can be published.", "warning")
    else:
        flash("Saved. The draft passes every check.")
    return redirect(url_for("admin.edit_draft", draft_id=draft.id, node=node_id))


@bp.post("/menus/drafts/<int:draft_id>/nodes/<node_id>")
@require_role(*EDITORS)
def save_node(draft_id: int, node_id: str) -> Page:
    draft = _draft_or_404(draft_id)
    before = editing.load(draft.source)
    after = deepcopy(before)
    try:
        if node_id == STRINGS_PAGE:
            apply_strings(after, request.form)
        elif node_id in after["nodes"]:
            apply_node(after, node_id, request.form, add_option="add_option" in request.form)
        else:
            abort(404)
    except FormError as exc:
        return _editor(draft, before, node_id, error=[f"Not saved: {exc}"], status=422)
    return _save(draft, before, after, node_id, f"node {node_id}")


@bp.post("/menus/drafts/<int:draft_id>/nodes")
@require_role(*EDITORS)
def add_node(draft_id: int) -> Page:
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    node_id = request.form.get("node_id", "").strip()
    try:
        editing.add_node(data, node_id, request.form.get("type", "menu"))
    except editing.EditError as exc:
        flash(f"Not added: {exc}", "error")
        return redirect(url_for("admin.edit_draft", draft_id=draft.id))
    drafts.save(runtime(), draft.id, data, _by())
    _audit(audit.MENU_DRAFT_SAVED, f"draft {draft.id} added node {node_id}")
    flash(f"Node {node_id} added. Write its texts, then lead an option to it.", "warning")
    return redirect(url_for("admin.edit_draft", draft_id=draft.id, node=node_id))


@bp.post("/menus/drafts/<int:draft_id>/nodes/<node_id>/delete")
@require_role(*EDITORS)
def remove_node(draft_id: int, node_id: str) -> Page:
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    try:
        editing.remove_node(data, node_id)
    except editing.EditError as exc:
        flash(f"Not removed: {exc}", "error")
        return redirect(url_for("admin.edit_draft", draft_id=draft.id, node=node_id))
    drafts.save(runtime(), draft.id, data, _by())
    _audit(audit.MENU_DRAFT_SAVED, f"draft {draft.id} removed node {node_id}")
    _, problems = _problems(data)
    flash(f"Node {node_id} removed; what led to it now leads where it led.", "warning" if problems else "message")
    return redirect(url_for("admin.edit_draft", draft_id=draft.id))


@bp.post("/menus/drafts/<int:draft_id>/publish")
@require_role(*EDITORS)
def publish_draft(draft_id: int) -> Page:
    rt = runtime()
    draft = _draft_or_404(draft_id)
    try:
        tree = rt.menus.publish(draft.source, _max_chars(), by=_by())
    except PublishError as exc:
        data = editing.load(draft.source)
        reasons = ["Not published: " + p for p in exc.problems]
        return _editor(draft, data, request.form.get("node") or data["start"]["volunteer"], error=reasons, status=422)
    except TreeError as exc:
        flash(f"Not published: {exc}", "error")
        return redirect(url_for("admin.edit_draft", draft_id=draft.id))
    drafts.delete(rt, draft_id)
    version = next(v for v in rt.menus.versions() if v.version == tree.version)
    _audit(audit.MENU_PUBLISHED, f"v{version.id} {tree.version[:12]} from draft {draft_id}")
    flash(f"Published as v{version.id}. New sessions start on it; calls in progress finish on theirs.")
    return redirect(url_for("admin.menus"))


# --- the phone preview --------------------------------------------------------------------


def _edited(source: str, node_id: str, fields: dict[str, str]) -> str:
    """source with a node form's unsaved values applied (unchanged if they cannot be)."""
    data = editing.load(source)
    try:
        if node_id == STRINGS_PAGE:
            apply_strings(data, fields)
        elif node_id in data["nodes"]:
            apply_node(data, node_id, fields)
        else:
            return source
    except FormError:
        return source
    return editing.dump(data)


@bp.post("/menus/preview/<ref>")
@require_role(*READERS)
def preview_dial(ref: str) -> Response | tuple[Response, int]:
    """The screens of a dial through a draft or version: {"caller", "lang", "inputs"} in, JSON out.

    With "edit": {"node", "fields"} (the node form as being typed), the dial goes through
    the draft with that edit applied, unsaved: the preview follows the typing.
    """
    body = request.get_json(silent=True) or {}
    caller = str(body.get("caller", "community"))
    lang = str(body.get("lang", "rw"))
    inputs = [str(i) for i in body.get("inputs") or []][: preview.MAX_INPUTS]
    try:
        source = _source(ref)
        edit = body.get("edit")
        if isinstance(edit, dict) and isinstance(edit.get("fields"), dict):
            source = _edited(source, str(edit.get("node", "")), {str(k): str(v) for k, v in edit["fields"].items()})
        tree = parse_tree(source)
        screens = preview.dial(runtime(), tree, caller, lang, inputs)
    except (TreeError, ValueError, KeyError) as exc:
        return jsonify(error=f"the preview cannot dial this tree: {exc}"), 422
    return jsonify(screens=[asdict(s) for s in screens])


# --- translations -----------------------------------------------------------------------


@bp.get("/menus/<ref>/translations.xlsx")
@require_role(*READERS)
def export_xlsx(ref: str) -> Response:
    content = translations.export_xlsx(editing.load(_source(ref)))
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="ijwi-menu-{ref}.xlsx"'},
    )


@bp.get("/menus/<ref>/translations-<lang>.po")
@require_role(*READERS)
def export_po(ref: str, lang: str) -> Response:
    try:
        content = translations.export_po(editing.load(_source(ref)), lang)
    except translations.TranslationFileError:
        abort(404)
    return Response(
        content,
        mimetype="text/x-gettext-translation",
        headers={"Content-Disposition": f'attachment; filename="ijwi-menu-{ref}-{lang}.po"'},
    )


@bp.get("/menus/drafts/<int:draft_id>/translations")
@require_role(*READERS)
def draft_translations(draft_id: int) -> Page:
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    return render_template(
        "admin/menus/translations.html",
        section="admin.menus",
        draft=draft,
        langs=data["languages"],
        review=review_counts(data),
        may_edit=user().may_edit,
    )


@bp.post("/menus/drafts/<int:draft_id>/translations")
@require_role(*EDITORS)
def import_translations(draft_id: int) -> Page:
    """Read an uploaded file and show what it would change; nothing changes yet."""
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a file to import.", "error")
        return redirect(url_for("admin.draft_translations", draft_id=draft_id))
    content = upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        flash(f"The file is larger than {MAX_UPLOAD // 1024 // 1024} MB.", "error")
        return redirect(url_for("admin.draft_translations", draft_id=draft_id))
    try:
        rows = translations.read_file(upload.filename, content)
    except translations.TranslationFileError as exc:
        flash(f"Not imported: {exc}", "error")
        return redirect(url_for("admin.draft_translations", draft_id=draft_id))
    planned = [p for p in translations.plan(data, rows, _max_chars()) if p.changes or p.problem]
    accepted = [asdict(p.row) for p in planned if not p.problem]
    return render_template(
        "admin/menus/import_preview.html",
        section="admin.menus",
        draft=draft,
        filename=upload.filename,
        planned=planned,
        accepted=json.dumps(accepted),
        accepted_count=len(accepted),
        refused_count=sum(1 for p in planned if p.problem),
        total=len(rows),
    )


@bp.post("/menus/drafts/<int:draft_id>/translations/apply")
@require_role(*EDITORS)
def apply_translations(draft_id: int) -> Page:
    """Apply the previewed texts, checked again against the draft as it is now."""
    draft = _draft_or_404(draft_id)
    data = editing.load(draft.source)
    try:
        rows = [translations.Row(**r) for r in json.loads(request.form.get("rows", "[]"))]
    except (TypeError, ValueError):
        abort(400)
    planned = translations.plan(data, rows, _max_chars())
    good = [p for p in planned if not p.problem and p.changes]
    drafts.save(runtime(), draft.id, translations.apply(data, good), _by())
    _audit(audit.MENU_TRANSLATIONS_IMPORTED, f"draft {draft.id}: {len(good)} texts")
    refused = len([p for p in planned if p.problem])
    flash(f"Imported {len(good)} text(s)." + (f" {refused} refused: the draft changed since." if refused else ""))
    return redirect(url_for("admin.edit_draft", draft_id=draft.id))
