"""Admin logins: a signed cookie naming a login kept in Redis, opened only under /admin/.

The cookie holds Flask-Login's user id, which is a random login id; the login itself
(whose, until when) lives in Redis, so logging out or deactivating a user ends it on the
server. Requests outside /admin/ (the USSD and SMS webhooks) get no session at all, as
before: no cookie is read, signed or written for them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from gateway import keys
from gateway.config import Settings
from gateway.runtime import Runtime

# Where the admin web lives: the only paths that open a session.
ADMIN_PREFIX = "/admin"
# The cookie's name (not Flask's default, so that it says whose it is).
COOKIE_NAME = "ijwi_admin"


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, for /admin/ paths only, signed with a key of its own.

    Flask's SECRET_KEY stays unset (gateway.app): the signer is made once, here.
    """

    def __init__(self, key: str) -> None:
        self._serializer = URLSafeTimedSerializer(
            key,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(ADMIN_PREFIX):
            return None  # Flask then uses its null session, as with no secret key
        return super().open_session(app, request)


def derived_key(secret_key: str, purpose: str) -> str:
    """A key for one purpose of the admin web, derived from SECRET_KEY."""
    return hmac.new(secret_key.encode("utf-8"), f"ijwi admin {purpose}".encode(), hashlib.sha256).hexdigest()


def init_app(app: Flask, settings: Settings) -> None:
    # The webhooks are not slowed: AdminSessionInterface opens no session outside /admin/,
    # and its signer is built once.
    app.session_interface = AdminSessionInterface(derived_key(settings.secret_key, "session"))
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH=ADMIN_PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.admin_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.admin_session_minutes),
        # Flask-WTF: tokens live as long as the login; checked by the admin blueprint only.
        WTF_CSRF_SECRET_KEY=derived_key(settings.secret_key, "csrf"),
        WTF_CSRF_TIME_LIMIT=settings.admin_session_minutes * 60,
        WTF_CSRF_SSL_STRICT=settings.admin_cookie_secure,
    )


class LoginStore:
    """Logins in Redis: login id -> the user's id, for ADMIN_SESSION_MINUTES after the last page."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ttl = rt.settings.admin_session_minutes * 60

    def open(self, user_id: int) -> str:
        login_id = secrets.token_urlsafe(24)
        self.rt.redis.set(keys.admin_session(login_id), json.dumps({"user_id": user_id}), ex=self.ttl)
        return login_id

    def get(self, login_id: str) -> dict[str, Any] | None:
        """The login's data, renewing its lifetime; None once ended or expired."""
        pipe = self.rt.redis.pipeline(transaction=False)
        pipe.get(keys.admin_session(login_id))
        pipe.expire(keys.admin_session(login_id), self.ttl)
        raw, _ = pipe.execute()
        return json.loads(raw) if raw else None

    def close(self, login_id: str) -> None:
        self.rt.redis.delete(keys.admin_session(login_id))
