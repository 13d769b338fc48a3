"""The admin blueprint: CSRF on every form, polite error pages, the navigation."""

from __future__ import annotations

import gzip

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from gateway import runtime as runtime_module
from gateway.runtime import Runtime

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")

# The sections of the admin web, in menu order: (label, endpoint). A section shows in the
# navigation once a module defines its endpoint.
NAVIGATION = (
    ("Menus", "admin.menus"),
    ("Cases", "admin.cases"),
    ("Registry", "admin.registry"),
    ("Users", "admin.users"),
    ("Dashboards", "admin.dashboards"),
)
# Sections only some roles open (the others do not see them in the navigation).
SECTION_ROLES = {"admin.users": ("admin",), "admin.registry": ("admin", "officer")}
# Methods that change something: each needs the form's CSRF token.
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Sent with every admin page: no framing, scripts and styles from this site only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# Pages bigger than this go gzipped to a browser that takes it (district offices are on slow links).
GZIP_ABOVE = 1024


def runtime() -> Runtime:
    """The app's runtime (database, Redis, menus, places)."""
    return runtime_module.current()


@bp.before_request
def check_csrf() -> None:
    """Refuse a change whose form does not carry this login's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken", "")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


@bp.after_request
def security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.after_request
def compress(response: Response) -> Response:
    """Gzip a page (charts and tables shrink five- to tenfold) when the browser accepts it."""
    if (
        response.direct_passthrough
        or "Content-Encoding" in response.headers
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or not (response.mimetype or "").startswith("text/")
    ):
        return response
    data = response.get_data()
    if len(data) >= GZIP_ABOVE:
        response.set_data(gzip.compress(data, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    return response


@bp.app_template_global()
def csrf_field() -> Markup:
    """The hidden CSRF input every admin form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


@bp.app_template_global()
def csrf_token() -> str:
    """This login's CSRF token, for a script's X-CSRFToken header."""
    return str(generate_csrf())


@bp.app_context_processor
def navigation() -> dict[str, object]:
    views = current_app.view_functions
    role = getattr(current_user, "role", None)
    return {
        "navigation": [
            (label, endpoint)
            for label, endpoint in NAVIGATION
            if endpoint in views and role in SECTION_ROLES.get(endpoint, (role,))
        ]
    }


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> tuple[str, int]:
    message = (
        "This form was not accepted: it has expired or did not come from this site. Reload the page and try again."
    )
    return render_template("admin/error.html", title="Form refused", message=message, reason=exc.description), 400


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[str, int]:
    messages = {
        403: "Your role may not do this. Ask an administrator if you need it.",
        404: "There is no such page or record.",
    }
    message = messages.get(exc.code or 500, exc.description or "")
    return render_template("admin/error.html", title=exc.name, message=message, reason=""), exc.code or 500


@bp.get("/")
def home() -> Response:
    """The first section the user may open."""
    return redirect(url_for("admin.menus"))  # type: ignore[return-value]
