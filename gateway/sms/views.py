"""POST /sms/inbound (officers' commands, reports by SMS) and POST /sms/delivery (delivery reports).

Both are deduplicated by the provider's `id`, do only quick SQL, and queue any SMS to send.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request

from gateway import runtime
from gateway.clock import utcnow
from gateway.phones import InvalidPhoneError, masked, normalize
from gateway.referrals import lifecycle
from gateway.sms import callbacks, outbox
from gateway.sms import inbound as inbound_sms
from gateway.webhooks import plain, protected

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)

# Longest provider id accepted (the column's size).
PROVIDER_ID_MAX = 100


@bp.post("/sms/inbound")
@protected
def inbound():  # type: ignore[no-untyped-def]
    """An SMS to the gateway: an officer's command, a volunteer's form, or anybody's concern."""
    form = request.form
    provider_id = form.get("id", "").strip()
    if not provider_id or len(provider_id) > PROVIDER_ID_MAX:
        return plain("id is required", 400)
    try:
        phone = normalize(form.get("from", ""))
    except InvalidPhoneError:
        return plain("from is not a phone number", 400)
    rt = runtime.current()
    with rt.db.transaction() as session:
        if not callbacks.first_time(session, "inbound", provider_id, ""):
            return plain("OK (already handled)")
        effects = inbound_sms.dispatch(rt, session, provider_id, phone, form.get("text", ""), utcnow())
    log.info("inbound SMS %s from %s handled", provider_id, masked(phone))
    inbound_sms.after_commit(rt, effects)
    return plain("OK")


@bp.post("/sms/delivery")
@protected
def delivery():  # type: ignore[no-untyped-def]
    """A delivery report: the message's status; a final failure moves the alert to the next contact."""
    form = request.form
    provider_id = form.get("id", "").strip()
    status = form.get("status", "").strip()[:30]
    if not provider_id or len(provider_id) > PROVIDER_ID_MAX or not status:
        return plain("id and status are required", 400)
    rt = runtime.current()
    now = utcnow()
    follow_ups: list[int] = []
    with rt.db.transaction() as session:
        if not callbacks.first_time(session, "delivery", provider_id, status):
            return plain("OK (already handled)")
        message = outbox.by_provider_id(session, provider_id)
        if message is None:
            log.info("delivery report %s for no message of ours", provider_id)
            return plain("OK (unknown message)")
        if outbox.apply_delivery_report(session, message, status, form.get("failureReason", "").strip(), now):
            follow_ups = lifecycle.fail_over(rt, session, message, now)
    outbox.dispatch(rt, follow_ups)
    return plain("OK")
