"""Logging in to the admin web: sessions, lockout, CSRF, roles, and the webhooks untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.models import AuditEntry, User
from gateway.runtime import Runtime
from tests.admin.conftest import ADMIN, PASSWORD, browser_login, csrf_token, screenshot


def _post_login(client: FlaskClient, email: str, password: str) -> Any:
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


def test_a_page_asks_for_a_login_and_a_right_password_opens_it(
    client: FlaskClient, make_user: Any, rt: Runtime
) -> None:
    make_user(ADMIN, "admin")
    response = client.get("/admin/menus")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]

    assert _post_login(client, ADMIN, "wrong password!").status_code == 401
    response = _post_login(client, ADMIN, PASSWORD)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert client.get("/admin/menus").status_code == 200
    with rt.db.reading() as db:
        actions = [(a.actor, a.action) for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [(ADMIN, "admin_login_refused"), (ADMIN, "admin_login")]


def test_logging_out_ends_the_login_on_the_server(login: Callable[..., FlaskClient]) -> None:
    client = login("admin")
    cookie = client.get_cookie("ijwi_admin", path="/admin")
    assert cookie is not None
    page = client.get("/admin/menus").get_data(as_text=True)
    assert client.post("/admin/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    # The old cookie, replayed, no longer opens anything.
    client.set_cookie("ijwi_admin", cookie.value, path="/admin")
    assert client.get("/admin/menus").status_code == 302


def test_five_failures_lock_the_account_even_for_the_right_password(client: FlaskClient, make_user: Any) -> None:
    make_user(ADMIN, "admin")
    for _ in range(5):
        assert _post_login(client, ADMIN, "not the password").status_code == 401
    response = _post_login(client, ADMIN, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_a_deactivated_user_is_logged_out_at_the_next_page(login: Callable[..., FlaskClient], rt: Runtime) -> None:
    client = login("admin")
    with rt.db.transaction() as db:
        db.scalars(select(User)).one().active = False
    assert client.get("/admin/menus").status_code == 302


def test_a_form_without_its_csrf_token_is_refused(login: Callable[..., FlaskClient]) -> None:
    client = login("admin")
    response = client.post("/admin/logout")
    assert response.status_code == 400
    assert "CSRF token is missing" in response.get_data(as_text=True)
    assert client.get("/admin/menus").status_code == 200  # still logged in


def test_the_login_cookie_is_secure_outside_development(app_with: Any) -> None:
    app = app_with(admin_cookie_secure=True)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_the_ussd_webhook_gets_no_session_and_no_cookie(client: FlaskClient, app: Any) -> None:
    interface = app.session_interface
    calls = []
    original = type(interface).get_signing_serializer

    def counting(self: Any, flask_app: Any) -> Any:
        calls.append(1)
        return original(self, flask_app)

    type(interface).get_signing_serializer = counting
    try:
        for hop in range(3):
            data = {"sessionId": "s1", "phoneNumber": "+250788765432", "serviceCode": "*801#", "text": "1" * hop}
            response = client.post("/ussd", data=data)
            assert response.status_code == 200 and "Set-Cookie" not in response.headers
    finally:
        type(interface).get_signing_serializer = original
    assert calls == []


def test_an_admin_logs_in_with_a_browser(new_page: Any, make_user: Any) -> None:
    page = new_page()
    page.goto("/admin/menus")
    assert "/admin/login" in page.url
    screenshot(page, "login")
    browser_login(page, make_user(ADMIN, "admin"))
    assert page.get_by_role("heading", name="Menus").is_visible()
    assert page.get_by_role("link", name="Menus").is_visible()


def test_what_is_typed_for_an_unknown_account_is_not_written_to_the_audit_log(client: FlaskClient, rt: Runtime) -> None:
    assert _post_login(client, "my secret password", "x").status_code == 401
    with rt.db.reading() as db:
        entries = [(a.actor, a.detail) for a in db.scalars(select(AuditEntry))]
    assert entries == [("-", "unknown account")]
