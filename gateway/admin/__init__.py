"""The admin web under /admin/: server-rendered pages behind a login.

How a page is added (cases, registry, dashboards ...):

- a module here, e.g. ``gateway/admin/cases.py``, whose views are routes on ``base.bp``
  decorated with ``@require_role(...)`` (``gateway.admin.auth``); reading pages allow
  ``READERS``, changing ones ``EDITORS``;
- its name in ``PAGES`` below, so that it is imported when the app is made;
- its templates in ``templates/admin/`` extending ``admin/base.html``; a navigation entry
  appears by itself once its endpoint exists (``base.NAVIGATION``);
- every form carries ``{{ csrf_field() }}`` (a POST without it is refused for the whole
  blueprint) and every change writes ``gateway.accounts.audit.record`` with the user's email.
"""

from __future__ import annotations

import importlib

from flask import Flask

from gateway.config import Settings

# Modules whose routes make up the admin web.
PAGES = (
    "gateway.admin.auth",
    "gateway.admin.menus",
    "gateway.admin.cases",
    "gateway.admin.dashboards",
    "gateway.admin.registry",
    "gateway.admin.users",
)


def init_app(app: Flask, settings: Settings) -> None:
    """Sessions, login, CSRF and every admin page, on app."""
    from gateway.admin import auth, base, sessions

    sessions.init_app(app, settings)
    auth.login_manager.init_app(app)
    for name in PAGES:
        importlib.import_module(name)
    app.register_blueprint(base.bp)
