"""POST /ussd/events (the end-of-session notification); POST /ussd is answered in front of Flask
(gateway.ussd.hop)."""

from __future__ import annotations

import logging

from flask import Blueprint, request

from gateway import logs, metrics, runtime
from gateway.models import UssdSessionEnd
from gateway.phones import InvalidPhoneError, normalize
from gateway.ussd.hop import SESSION_ID_MAX
from gateway.ussd.service import DROPPED, UssdService
from gateway.webhooks import bounded_int, clean, plain, protected, safe_id

log = logging.getLogger(__name__)
bp = Blueprint("ussd", __name__)


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
