"""POST /ussd (Africa's Talking's USSD callback) and POST /ussd/events."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from flask import Blueprint, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway import logs, metrics, runtime
from gateway.models import UssdSessionEnd
from gateway.phones import InvalidPhoneError, normalize
from gateway.ussd import notices
from gateway.ussd.service import DROPPED, UssdService
from gateway.webhooks import bounded_int, clean, plain, protected, safe_id

log = logging.getLogger(__name__)
bp = Blueprint("ussd", __name__)

# Longest sessionId accepted.
SESSION_ID_MAX = 100
# The answer when the request itself is unusable (no session or phone).
BAD_REQUEST_REPLY = "END Sorry, this request could not be read. Please dial again."
# Longest text of a whole session (every input joined by "*"): more is no caller's typing.
TEXT_MAX = 2000


@bp.post("/ussd")
@protected
def callback():  # type: ignore[no-untyped-def]
    """One USSD hop: always a text/plain CON or END, never a 500 to the network."""
    started = time.perf_counter()
    try:
        form = _hop_form()
    except RequestEntityTooLarge:
        return plain(notices.notice("too_long"))
    session_id = safe_id(form.get("sessionId", ""), SESSION_ID_MAX)
    text = form.get("text", "")
    if session_id is None:
        return plain(BAD_REQUEST_REPLY)
    if len(text) > TEXT_MAX:
        return plain(notices.notice("too_long"))
    try:
        phone = normalize(form.get("phoneNumber", ""))
    except InvalidPhoneError:
        return plain(BAD_REQUEST_REPLY)
    logs.set_phone(phone)
    service = UssdService(runtime.current())
    try:
        reply = service.handle(session_id, phone, text)
    except Exception:
        log.exception("USSD hop failed", extra={"session": session_id})
        metrics.HOP_ERRORS.inc()
        reply = service.error_reply(session_id)
    _hop_done(session_id, text, reply, time.perf_counter() - started)
    return plain(reply)


def _hop_done(session_id: str, text: str, reply: str, seconds: float) -> None:
    """A hop's latency by screen kind, and its log line: at INFO for a session's END screen (one
    line a session; a dropped one gets the network's notification's), at DEBUG before it. Never
    the text or the screen: they may hold free text."""
    screen = reply[:3]
    metrics.HOP_SECONDS.labels(screen).observe(seconds)
    level = logging.INFO if screen == "END" else logging.DEBUG
    if log.isEnabledFor(level):
        hop = text.count("*") + 1 if text else 0
        ms = round(seconds * 1000, 2)
        log.log(level, "ussd hop", extra={"session": session_id, "hop": hop, "screen": screen, "ms": ms})


@bp.post("/ussd/events")
@protected
def session_ended():  # type: ignore[no-untyped-def]
    """Record an end-of-session notification (never its input: it may hold free text);
    the first time, let a dropped session's draft wait for the caller to dial again."""
    form = request.form
    session_id = safe_id(form.get("sessionId", ""), SESSION_ID_MAX)
    if session_id is None:
        return plain("sessionId is required (visible characters, at most 100)", 400)
    rt = runtime.current()
    try:
        phone: str | None = normalize(form.get("phoneNumber", ""))
    except InvalidPhoneError:
        phone = None
    status = clean(form.get("status", ""), 20)
    if phone:
        logs.set_phone(phone)
    service = UssdService(rt)
    end = UssdSessionEnd(
        session_id=session_id,
        phone_hash=rt.crypto.lookup_hash(phone) if phone else "",
        status=status,
        error=clean(form.get("errorMessage", ""), 60),
        duration_ms=bounded_int(form.get("durationInMillis")),
        hops=bounded_int(form.get("hopsCount")),
        network_code=clean(form.get("networkCode", ""), 10),
    )
    if not service.record_end(end):
        return plain("OK")
    if status in DROPPED:
        metrics.SESSIONS_DROPPED.inc()
    known = status if status in ("Success", *DROPPED) else "other"
    log.info("ussd session ended by the network", extra={"session": session_id, "status": known})
    try:
        service.session_ended(session_id, phone, status)
    except Exception:
        # Recorded already; the draft still expires on its own.
        log.exception("end of session %s not carried out", session_id)
    return plain("OK")


def _hop_form() -> dict[str, str]:
    """A hop's fields (the first of each name). Africa's Talking posts a small urlencoded
    form, read here with the standard library: werkzeug's general form parser cost more
    than the rest of the request's handling by Flask."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return request.form.to_dict()
    form: dict[str, str] = {}
    for name, value in parse_qsl(request.get_data(cache=False).decode(errors="replace"), keep_blank_values=True):
        form.setdefault(name, value)
    return form
