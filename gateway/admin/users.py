"""Users of the API and the admin web (admins only): create, change role and district, link to
the registry officer they are (picked from the list, or by the officer's phone), (de)activate,
revoke tokens."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gateway.accounts import audit, users
from gateway.admin.auth import EDITORS, require_role, user
from gateway.admin.base import bp, runtime
from gateway.admin.cases import districts
from gateway.models import Officer


def officer_choices(session: Session) -> list[tuple[str, str]]:
    """(phone, "name, role, district") of every active officer, by name: what a user may be linked to."""
    rows = session.scalars(select(Officer).where(Officer.active.is_(True)).order_by(Officer.name, Officer.id))
    return [
        (o.phone, ", ".join([o.name, o.role.replace("_", " "), o.district.name if o.district else "national"]))
        for o in rows
    ]


@bp.get("/users", endpoint="users")
@require_role(*EDITORS)
def users_page() -> str:
    rt = runtime()
    with rt.db.reading() as session:
        choices = sorted(name for _, name in districts(session))
        officers = officer_choices(session)
    return render_template(
        "admin/users/index.html",
        section="admin.users",
        rows=users.list_users(rt),
        roles=users.ROLES,
        districts=choices,
        officers=officers,
    )


def _done(message: str, detail: str) -> Response:
    with runtime().db.transaction() as session:
        audit.record(session, user().email, audit.USER_CHANGED, detail=detail)
    flash(message)
    return redirect(url_for("admin.users"))


@bp.post("/users")
@require_role(*EDITORS)
def users_create() -> Response:
    form = request.form
    email, role, district = form.get("email", ""), form.get("role", ""), form.get("district", "").strip() or None
    officer = form.get("officer", "").strip() or None
    try:
        made = users.create_user(runtime(), email, form.get("password", ""), role, district, officer)
    except users.AccountError as exc:
        flash(f"Not created: {exc}.", "error")
        return redirect(url_for("admin.users"))
    linked = f", the officer {made.officer.name}" if made.officer else ""
    return _done(f"{made.email} created ({made.role}{linked}).", f"created {made.email} as {made.role}{linked}")


@bp.post("/users/<email>/<change>")
@require_role(*EDITORS)
def users_change(email: str, change: str) -> Response:
    rt = runtime()
    try:
        if change == "role":
            role, district = request.form.get("role", ""), request.form.get("district", "").strip() or None
            officer = request.form.get("officer", "").strip() or None
            changed = users.set_role(rt, email, role, district, officer)
            linked = f", the officer {changed.officer.name}" if changed.officer else ", linked to no officer"
            where = f" of {changed.district.name}" if changed.district else ""
            said = f"{changed.role}{where}{linked}"
            return _done(f"{email} is now {said}.", f"{email} role {said}")
        if change in ("activate", "deactivate"):
            if email == user().email and change == "deactivate":
                raise users.AccountError("you cannot deactivate yourself")
            users.set_active(rt, email, change == "activate")
            return _done(f"{email} {change}d.", f"{email} {change}d")
        if change == "revoke":
            count = users.revoke_tokens(rt, email)
            return _done(f"{count} token(s) of {email} revoked.", f"{email} tokens revoked ({count})")
    except users.AccountError as exc:
        flash(f"Not changed: {exc}.", "error")
        return redirect(url_for("admin.users"))
    flash("Unknown change.", "error")
    return redirect(url_for("admin.users"))
