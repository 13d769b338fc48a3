"""What every provider webhook shares: the shared-secret check and plain-text answers."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from functools import wraps
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import orjson
from flask import Response, abort, request
from werkzeug.exceptions import HTTPException

from gateway import runtime

# Largest number a webhook's number may be (an SQL INTEGER column).
INT32_MAX = 2**31 - 1
# Provider ids: visible ASCII only (no space, newline or other control character).
_PRINTABLE_ID = re.compile(r"[\x21-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def protected(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing recorded) a callback without the WEBHOOK_TOKEN (the app does not
    start without one outside development mode), or from outside WEBHOOK_ALLOWED_IPS."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reason = refusal(runtime.current(), request.args.get("token", ""), request.remote_addr or "")
        if reason is not None:
            abort(403, description=reason)
        return view(*args, **kwargs)

    return wrapper


def refusal(rt: runtime.Runtime, token: str, address: str) -> str | None:
    """Why a webhook request with this ?token= from this address is refused (403), or None."""
    expected = rt.settings.webhook_token
    if not expected and not rt.settings.dev_mode:
        # Closed even where the start-up check did not run (a development server).
        return "WEBHOOK_TOKEN is not set: the webhooks are closed"
    if expected and not hmac.compare_digest(token.encode(), expected.encode()):
        return "wrong or missing webhook token"
    if rt.webhook_networks and not _allowed(address, rt.webhook_networks):
        return "this address may not call the webhooks"
    return None


def _allowed(address: str, networks: list[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def safe_id(value: str, longest: int) -> str | None:
    """A provider id (sessionId, SMS id) if it is printable ASCII without spaces and not too
    long; else None (so that no id can forge a log line or fill a column)."""
    value = value.strip()
    if not value or len(value) > longest or not _PRINTABLE_ID.fullmatch(value):
        return None
    return value


def clean(value: str, longest: int) -> str:
    """A provider's free-form field as stored: control characters (NUL, newlines) replaced,
    cut to the column's length."""
    return _CONTROL.sub("?", value.strip())[:longest]


def bounded_int(value: str | None) -> int | None:
    """A non-negative whole number that fits a 32-bit column, else None."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number <= INT32_MAX else None


def plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def error_answer(exc: HTTPException) -> Response:
    """The JSON answer of an HTTP error (403, 404, ...): {"error": its name, "message": why}."""
    body = orjson.dumps({"error": exc.name, "message": exc.description})
    return Response(body, status=exc.code, mimetype="application/json")
