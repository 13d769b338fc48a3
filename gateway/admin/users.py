"""Users of the API and the admin web (admins only): create, change role, (de)activate, revoke tokens."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.accounts import audit, users
from gateway.admin.auth import EDITORS, require_role, user
from gateway.admin.base import bp, runtime
from gateway.admin.cases import districts


@bp.get("/users", endpoint="users")
@require_role(*EDITORS)
def users_page() -> str:
    rt = runtime()
    with rt.db.reading() as session:
        choices = sorted(name for _, name in districts(session))
    return render_template(
        "admin/users/index.html", section="admin.users", rows=users.list_users(rt), roles=users.ROLES, districts=choices
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
    try:
        users.create_user(runtime(), email, form.get("password", ""), role, district)
    except users.AccountError as exc:
        flash(f"Not created: {exc}.", "error")
        return redirect(url_for("admin.users"))
    return _done(f"{email.strip().lower()} created ({role}).", f"created {email.strip().lower()} as {role}")


@bp.post("/users/<email>/<change>")
@require_role(*EDITORS)
def users_change(email: str, change: str) -> Response:
    rt = runtime()
    try:
        if change == "role":
            role, district = request.form.get("role", ""), request.form.get("district", "").strip() or None
            users.set_role(rt, email, role, district)
            return _done(f"{email} is now {role}.", f"{email} role {role} {district or ''}".strip())
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
