"""Admin web fixtures: users and logins over the test client, and a real browser.

Browser tests use headless Chromium from the system (Debian's ``chromium`` package),
driven by Playwright; one browser serves the whole run and each test gets a fresh
context (cookies) on a live server of its own app. ``screenshot(page, name)`` keeps a PNG
in tests/admin/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from gateway.accounts.users import create_user
from gateway.config import Settings
from gateway.runtime import Runtime

SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery"
ADMIN = "admin@example.org"
VIEWER = "viewer@example.org"
# Chromium's switches for a container: no sandbox, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A laptop's and a phone's window.
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The admin web over plain HTTP, as on a developer's machine (production sends Secure cookies)."""
    return replace(settings, admin_cookie_secure=False)


@pytest.fixture
def make_user(rt: Runtime) -> Callable[..., str]:
    def make(email: str = ADMIN, role: str = "admin", district: str | None = None, officer: str | None = None) -> str:
        create_user(rt, email, PASSWORD, role, district, officer)
        return email

    return make


@pytest.fixture
def login(client: FlaskClient, make_user: Callable[..., str]) -> Callable[..., FlaskClient]:
    """Log the test client in as a new user of role (admin by default)."""

    def log_in(role: str = "admin", email: str | None = None) -> FlaskClient:
        email = make_user(email or f"{role}@example.org", role)
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        response = client.post("/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return log_in


# --- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed here (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test's app served on an ephemeral port of 127.0.0.1, in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def new_page(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (own cookies): new_page(viewport=PHONE)."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int] = LAPTOP) -> Any:
        context = browser.new_context(base_url=live_server, viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def browser_login(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin/(?!login).*"))


@pytest.fixture
def admin_page(new_page: Callable[..., Any], make_user: Callable[..., str]) -> Any:
    """A laptop-sized page logged in as an admin."""
    page = new_page()
    browser_login(page, make_user(ADMIN, "admin"))
    return page


@pytest.fixture
def logged_in_page(new_page: Callable[..., Any], make_user: Callable[..., str]) -> Callable[..., Any]:
    """logged_in_page(role="viewer", viewport=PHONE): a page logged in as a new user of role."""

    def open_as(role: str = "admin", viewport: dict[str, int] = LAPTOP) -> Any:
        page = new_page(viewport)
        browser_login(page, make_user(f"{role}@example.org", role))
        return page

    return open_as


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save the page (the whole of it, or what the window shows) as tests/admin/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
