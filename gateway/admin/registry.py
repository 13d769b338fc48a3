"""The registry in the admin web: officers (find, add, edit, on or off duty in one click,
deactivate) and volunteers (find by name, phone or place; activate, deactivate), and CSV
uploads shown line by line before anything is committed.

Admins change everything; an officer sees their district's people and may switch its
officers on or off duty; viewers do not open the registry (it holds phone numbers).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts import audit
from gateway.admin.auth import EDITORS, require_role, user
from gateway.admin.base import bp, runtime
from gateway.admin.cases import districts
from gateway.models import Officer
from gateway.registry import imports, people
from gateway.vocabulary import Language, OfficerRole, UserRole

# Who opens the registry, and who switches an officer on or off duty.
REGISTRY_READERS = (UserRole.ADMIN, UserRole.OFFICER)
# Fields of the officer form, kept as typed when it is refused.
FORM_FIELDS = ("name", "phone", "role", "district", "sector", "language", "on_duty")
# Largest CSV file an upload takes.
MAX_UPLOAD = 2_000_000


def _scope() -> int | None:
    me = user()
    return me.district_id if me.role == UserRole.OFFICER else None


def _audit(detail: str) -> None:
    with runtime().db.transaction() as session:
        audit.record(session, user().email, audit.REGISTRY_CHANGED, detail=detail)


@bp.get("/registry", endpoint="registry")
@require_role(*REGISTRY_READERS)
def registry_page() -> str:
    rt = runtime()
    args = request.args
    places = (args.get("district", ""), args.get("sector", ""), args.get("cell", ""), args.get("village", ""))
    with rt.db.reading() as session:
        officers = people.find_officers(session, args.get("q", ""), _scope())
        district_names = {o.district_id: rt.places.label(o.district_id) for o in officers if o.district_id}
        volunteers = (
            people.find_volunteers(session, args.get("name", ""), args.get("phone", ""), places, _scope())
            if any(args.get(k) for k in ("name", "phone", "district", "sector", "cell", "village"))
            else []
        )
        choices = sorted(name for _, name in districts(session))
    return render_template(
        "admin/registry/index.html",
        section="admin.registry",
        officers=officers,
        district_names=district_names,
        volunteers=volunteers,
        query=args,
        districts=choices,
        may_edit=user().role in EDITORS,
    )


@bp.post("/registry/officers/<int:officer_id>/duty")
@require_role(*REGISTRY_READERS)
def officer_duty(officer_id: int) -> Response:
    """One click: on duty, or off duty (the next alert goes to whoever is on duty)."""
    rt = runtime()
    with rt.db.transaction() as session:
        officer = session.get(Officer, officer_id)
        scope = _scope()
        if officer is None or (scope is not None and officer.district_id != scope):
            abort(404)
        officer.on_duty = not officer.on_duty
        state = "on duty" if officer.on_duty else "off duty"
        name = officer.name
    _audit(f"officer:{officer_id} {state}")
    flash(f"{name} is now {state}.")
    return redirect(request.form.get("back") or url_for("admin.registry"))


def _officer_form() -> people.OfficerForm:
    f = request.form
    return people.OfficerForm(
        name=f.get("name", ""),
        phone=f.get("phone", ""),
        role=f.get("role", ""),
        district=f.get("district", ""),
        sector=f.get("sector", ""),
        language=f.get("language", "rw"),
        on_duty=f.get("on_duty") == "1",
    )


@bp.route("/registry/officers/new", methods=["GET", "POST"], defaults={"officer_id": None})
@bp.route("/registry/officers/<int:officer_id>", methods=["GET", "POST"])
@require_role(*EDITORS)
def officer_edit(officer_id: int | None) -> Response | str | tuple[str, int]:
    rt = runtime()
    error = ""
    with rt.db.reading() as session:
        officer = session.get(Officer, officer_id) if officer_id else None
        if officer_id and officer is None:
            abort(404)
        choices = sorted(name for _, name in districts(session))
        values = {
            "name": officer.name if officer else "",
            "phone": officer.phone if officer else "",
            "role": officer.role if officer else OfficerRole.SOCIAL_WORKER,
            "district": officer.district.name if officer and officer.district else "",
            "sector": officer.sector.name if officer and officer.sector else "",
            "language": officer.language if officer else "rw",
            "on_duty": officer.on_duty if officer else True,
            "active": officer.active if officer else True,
        }
    if request.method == "POST":
        if request.form.get("active") in ("0", "1") and officer is not None:
            with rt.db.transaction() as session:
                found = session.get(Officer, officer.id)
                assert found is not None
                found.active = request.form["active"] == "1"
            _audit(f"officer:{officer.id} {'activated' if request.form['active'] == '1' else 'deactivated'}")
            flash(f"{officer.name} {'activated' if request.form['active'] == '1' else 'deactivated'}.")
            return redirect(url_for("admin.registry"))
        form = _officer_form()
        try:
            with rt.db.transaction() as session:
                saved = people.save_officer(session, form, officer_id)
                saved_id, saved_name = saved.id, saved.name
        except people.RegistryError as exc:
            error = str(exc)
            values |= {k: getattr(form, k) for k in FORM_FIELDS}
        else:
            _audit(f"officer:{saved_id} {'added' if officer_id is None else 'edited'}")
            flash(f"{saved_name} saved.")
            return redirect(url_for("admin.registry"))
    page = render_template(
        "admin/registry/officer.html",
        section="admin.registry",
        officer_id=officer_id,
        values=values,
        error=error,
        roles=list(OfficerRole),
        languages=list(Language),
        districts=choices,
    )
    return (page, 400) if error else page


@bp.post("/registry/volunteers/<int:volunteer_id>/<change>")
@require_role(*EDITORS)
def volunteer_active(volunteer_id: int, change: str) -> Response:
    if change not in ("activate", "deactivate"):
        abort(404)
    try:
        volunteer = people.set_volunteer_active(runtime(), volunteer_id, change == "activate")
    except people.RegistryError:
        abort(404)
    _audit(f"volunteer:{volunteer_id} {change}d")
    flash(f"{volunteer.name} {change}d.")
    return redirect(request.form.get("back") or url_for("admin.registry"))


IMPORTERS = {"officers": imports.import_officers, "volunteers": imports.import_volunteers}


@bp.route("/registry/upload", methods=["GET", "POST"])
@require_role(*EDITORS)
def registry_upload() -> str | Response | tuple[str, int]:
    """Upload a CSV: first a preview (nothing committed), then, when every line is good, commit it."""
    if request.method == "GET":
        return render_template("admin/registry/upload.html", section="admin.registry", preview=None, kind="officers")
    kind = request.form.get("kind", "")
    importer = IMPORTERS.get(kind)
    if importer is None:
        abort(400, description="Choose officers or volunteers.")
    upload = request.files.get("file")
    text = request.form.get("content", "")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            flash("The file is too big (2 MB at most).", "error")
            return redirect(url_for("admin.registry_upload"))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            flash("The file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8.", "error")
            return redirect(url_for("admin.registry_upload"))
    if not text.strip():
        flash("Choose a CSV file.", "error")
        return redirect(url_for("admin.registry_upload"))
    rt = runtime()
    if request.form.get("commit") == "1":
        try:
            summary = importer(rt, text)
        except imports.RegistryImportError as exc:
            flash("Nothing was imported: " + "; ".join(exc.problems[:5]), "error")
            return redirect(url_for("admin.registry_upload"))
        _audit(f"{kind} file imported: {summary.said()}")
        flash(f"Imported: {summary.said()}.")
        return redirect(url_for("admin.registry"))
    try:
        preview = importer(rt, text, dry_run=True)
    except imports.RegistryImportError as exc:
        preview = imports.ImportSummary(problems=exc.problems)
    page = render_template(
        "admin/registry/upload.html", section="admin.registry", preview=preview, kind=kind, content=text
    )
    return (page, 400) if preview.problems else page
