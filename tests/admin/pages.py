"""Helpers of the admin pages' tests: users of each role logged in over the test client."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from gateway.accounts.users import create_user
from gateway.runtime import Runtime
from tests.admin.conftest import PASSWORD, csrf_token


def logged_in(
    app: Flask, rt: Runtime, email: str, role: str, district: str | None = None, officer: str | None = None
) -> FlaskClient:
    """A new test client logged in as a new user (officer: the phone of the registry officer they are)."""
    create_user(rt, email, PASSWORD, role, district, officer)
    client = app.test_client()
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client: FlaskClient, url: str, data: dict[str, str] | None = None, page: str = "/admin/cases") -> object:
    """POST a form with the CSRF token of a page the user may open."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})
