"""The application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gateway import runtime as runtime_module
from gateway.config import ConfigError, Settings, check_webhooks, load_settings
from gateway.runtime import Runtime


def create_app(settings: Settings | None = None) -> Flask:
    """A gateway app for settings (default: from the environment)."""
    settings = settings or load_settings()
    check_webhooks(settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    # Every route: a bigger body is refused before it is read (the USSD hop answers a polite END).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # No SECRET_KEY in Flask's config: nothing uses cookie sessions (SECRET_KEY keys the
    # look-up hashes in gateway.crypto), and with one Flask builds a cookie signer on
    # every request.
    rt = Runtime(settings)
    app.extensions[runtime_module.EXTENSION] = rt
    # Jobs run in this process (a test's worker, the CLI) see the same runtime.
    runtime_module.install(rt)
    from gateway import canary

    if canary.check(rt) == canary.KeyCheck.WRONG:
        raise ConfigError(
            "ENCRYPTION_KEY cannot decrypt the data stored before (its canary): set the key it was "
            "encrypted with (or list it after the new one, comma-separated)"
        )

    from gateway import health
    from gateway.api import views as api_views
    from gateway.cli import register_commands
    from gateway.sms import views as sms_views
    from gateway.ussd import views as ussd_views

    for blueprint in (health.bp, ussd_views.bp, sms_views.bp, api_views.bp):
        app.register_blueprint(blueprint)

    register_commands(app)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
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
