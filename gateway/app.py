"""The application factory."""

from __future__ import annotations

import logging

import click
from flask import Flask, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gateway import log_levels, logs
from gateway import runtime as runtime_module
from gateway.config import ConfigError, Settings, check_webhooks, load_settings
from gateway.runtime import Runtime


def create_app(settings: Settings | None = None) -> Flask:
    """A gateway app for settings (default: from the environment).

    Settings missing or malformed stop a server at once; the command line (`flask --app
    wsgi ...`) still gets its app, so that `--help` and the commands that need no settings
    work, and the others say in one line what to fix (runtime.current() makes the runtime
    when a command first needs it).
    """
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError:
            if click.get_current_context(silent=True) is None:
                raise
    # A server (not a command of the command line) fails closed without a webhook token.
    serving = click.get_current_context(silent=True) is None
    if settings is not None and serving:
        check_webhooks(settings)
    if settings is not None:
        logs.configure(settings.log_level, settings.log_format)
    else:
        logs.configure(logging.getLevelName(logging.INFO), "text")
    log_levels.quiet_libraries()
    app = Flask(__name__)
    logs.init_app(app)
    # Every route: a bigger body is refused before it is read (the USSD hop answers a polite END).
    app.config["MAX_CONTENT_LENGTH"] = (settings or Settings()).max_request_bytes
    # No SECRET_KEY in Flask's config: it keys the look-up hashes in gateway.crypto, and
    # only the admin web has cookie sessions, signed with keys derived for it by a session
    # interface that opens none outside /admin/ (gateway.admin.sessions).
    if settings is not None:
        rt = runtime_module.attach(app, Runtime(settings))
        if serving:
            _check_key(rt)

    from gateway import health, metrics
    from gateway.api import views as api_views
    from gateway.cli import register_commands
    from gateway.sms import views as sms_views
    from gateway.ussd import views as ussd_views

    for blueprint in (health.bp, metrics.bp, ussd_views.bp, sms_views.bp, api_views.bp):
        app.register_blueprint(blueprint)

    register_commands(app)

    if settings is not None:
        from gateway import admin

        admin.init_app(app, settings)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        # A browser's page under /admin/ that no route matched: a page in the admin's look.
        if "admin" in app.blueprints and (request.path + "/").startswith("/admin/"):
            from gateway.admin import base as admin_pages

            return admin_pages.http_error(exc)
        return jsonify(error=exc.name, message=exc.description), exc.code

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):  # type: ignore[no-untyped-def]
        app.logger.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else "?")
        return jsonify(error="Service Unavailable", message="the database is unavailable; try again"), 503

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unexpected error")
        return jsonify(error="Internal Server Error", message="the gateway could not answer"), 500

    return app


def _check_key(rt: Runtime) -> None:
    """Refuse to serve with an ENCRYPTION_KEY that cannot read the data stored before."""
    from gateway import canary

    if canary.check(rt) == canary.KeyCheck.WRONG:
        raise ConfigError(
            "ENCRYPTION_KEY cannot decrypt the data stored before (its canary): set the key it was "
            "encrypted with (or list it after the new one, comma-separated)"
        )
