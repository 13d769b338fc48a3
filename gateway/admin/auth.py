"""Log in and out of the admin web; roles; the lockout after repeated failures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash

from gateway import keys
from gateway.accounts import audit
from gateway.admin.base import bp, runtime
from gateway.admin.sessions import LoginStore
from gateway.models import User

# Roles that may read the admin pages, and those that may change things.
READERS = ("admin", "officer", "viewer")
EDITORS = ("admin",)
# Failed logins, within keys.ADMIN_LOGIN_WINDOW, after which logging in is refused: for
# one account, and for one address (higher: a district office shares one address).
MAX_FAILURES_ACCOUNT = 5
MAX_FAILURES_ADDRESS = 20
# Checked against when the email is unknown, so that a wrong email takes as long as a wrong password.
_DUMMY_HASH = "scrypt:32768:8:1$ijwiijwiijwiijwi$" + "0" * 128

login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "Please log in to open this page."
login_manager.login_message_category = "warning"
login_manager.session_protection = "basic"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AdminUser:
    """The person behind an admin page: Flask-Login's user, named by their login id."""

    login_id: str
    user_id: int
    email: str
    role: str
    district_id: int | None
    # The registry officer this person is (their actions are that officer's), if linked.
    officer_id: int | None = None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.login_id

    @property
    def may_edit(self) -> bool:
        return self.role in EDITORS


def load_user(login_id: str) -> AdminUser | None:
    """The user of a live login, re-read each page: deactivated or demoted users lose access at once."""
    rt = runtime()
    login = LoginStore(rt).get(login_id)
    if login is None:
        return None
    with rt.db.reading() as db:
        user = db.get(User, int(login["user_id"]))
    if user is None or not user.active or user.role not in READERS:
        return None
    return AdminUser(login_id, user.id, user.email, user.role, user.district_id, user.officer_id)


login_manager.user_loader(load_user)


def user() -> AdminUser:
    """The logged-in user of this request (inside a require_role view)."""
    return cast(AdminUser, current_user._get_current_object())


def require_role(*roles: str) -> Callable[[F], F]:
    """Only logged-in users with one of roles may open the view; others log in or get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def _failure_keys(email: str) -> tuple[str, str]:
    address = request.remote_addr or "unknown"
    return keys.admin_login_failures("account", _hash(email)), keys.admin_login_failures("ip", _hash(address))


def _locked_out(email: str) -> bool:
    account, address = (int(n or 0) for n in runtime().redis.mget(*_failure_keys(email)))
    return account >= MAX_FAILURES_ACCOUNT or address >= MAX_FAILURES_ADDRESS


def _count_failure(email: str) -> None:
    pipe = runtime().redis.pipeline(transaction=False)
    for key in _failure_keys(email):
        # The window starts at the first failure; INCR keeps the key's TTL.
        pipe.set(key, 0, ex=keys.ADMIN_LOGIN_WINDOW, nx=True)
        pipe.incr(key)
    pipe.execute()


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a page of this admin web, never another site."""
    if target and target.startswith("/admin") and not urlsplit(target).netloc and not target.startswith("//"):
        return target
    return url_for("admin.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("admin/login.html", email="", next=request.args.get("next", ""))
    rt = runtime()
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    next_page = request.form.get("next", "")
    minutes = keys.ADMIN_LOGIN_WINDOW // 60
    if _locked_out(email):
        with rt.db.transaction() as db:
            known = db.scalar(select(User.email).where(User.email == email)) if email else None
            audit.record(db, known or "-", audit.ADMIN_LOGIN_REFUSED, detail="locked out")
        error = f"Too many failed attempts. Logging in is locked for up to {minutes} minutes."
        return render_template("admin/login.html", email=email, next=next_page, error=error), 429
    with rt.db.reading() as db:
        row = db.scalar(select(User).where(User.email == email)) if email else None
    good = check_password_hash(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not good or not row.active or row.role not in READERS:
        _count_failure(email)
        with rt.db.transaction() as db:
            # What was typed as an email is kept only when it is an account's (it may be a password).
            actor, detail = (row.email, "wrong password or inactive") if row else ("-", "unknown account")
            audit.record(db, actor, audit.ADMIN_LOGIN_REFUSED, detail=detail)
        error = "Wrong email or password."
        return render_template("admin/login.html", email=email, next=next_page, error=error), 401
    rt.redis.delete(_failure_keys(email)[0])
    session.clear()
    session.permanent = True
    login_id = LoginStore(rt).open(row.id)
    login_user(AdminUser(login_id, row.id, row.email, row.role, row.district_id, row.officer_id))
    with rt.db.transaction() as db:
        audit.record(db, row.email, audit.ADMIN_LOGIN)
    return redirect(_safe_next(next_page))  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        me = user()
        LoginStore(runtime()).close(me.login_id)
        with runtime().db.transaction() as db:
            audit.record(db, me.email, audit.ADMIN_LOGOUT)
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))  # type: ignore[return-value]
