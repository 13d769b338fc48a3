"""POST /sms/inbound (officers' commands, reports by SMS) and POST /sms/delivery (delivery reports).

Both are deduplicated by the provider's `id`, do only quick SQL, and queue any SMS to send.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.models import Message, Officer, ProviderCallback
from gateway.phones import InvalidPhoneError, masked, normalize
from gateway.referrals import lifecycle
from gateway.referrals import reports as referral_reports
from gateway.runtime import Runtime
from gateway.sms import commands, outbox
from gateway.sms import reports as sms_reports
from gateway.sms.reports import Effects
from gateway.ussd import callers
from gateway.vocabulary import CallerKind
from gateway.webhooks import plain, protected, runtime

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)

# Longest provider id accepted (the column's size).
PROVIDER_ID_MAX = 100


@bp.post("/sms/inbound")
@protected
def inbound():  # type: ignore[no-untyped-def]
    """An SMS to the gateway: an officer's command, a volunteer's report, or anybody's concern."""
    form = request.form
    provider_id = form.get("id", "").strip()
    if not provider_id or len(provider_id) > PROVIDER_ID_MAX:
        return plain("id is required", 400)
    try:
        phone = normalize(form.get("from", ""))
    except InvalidPhoneError:
        return plain("from is not a phone number", 400)
    rt = runtime()
    with rt.db.session() as session:
        if not _first_time(session, "inbound", provider_id, ""):
            return plain("OK (already handled)")
        effects = dispatch_inbound(rt, session, provider_id, phone, form.get("text", ""))
    log.info("inbound SMS %s from %s handled", provider_id, masked(phone))
    outbox.dispatch(rt, effects.messages)
    referral_reports.queue_routing(rt, effects.reports, effects.visits)
    sms_reports.remember(rt, effects)
    return plain("OK")


def dispatch_inbound(rt: Runtime, session: Session, provider_id: str, phone: str, text: str) -> Effects:
    """Who sent an SMS decides what it is: an active officer's is a command, a registered
    volunteer's a form, anybody else's a concern for triage (in the caller's transaction)."""
    officer = session.scalar(select(Officer).where(Officer.phone == phone, Officer.active.is_(True)))
    if officer is not None:
        return Effects(commands.handle(rt, session, officer, text, utcnow()))
    caller = callers.profile(rt, phone)
    if caller.kind == CallerKind.VOLUNTEER:
        return sms_reports.from_volunteer(rt, session, caller, provider_id, text)
    return sms_reports.from_community(rt, session, caller, provider_id, text)


@bp.post("/sms/delivery")
@protected
def delivery():  # type: ignore[no-untyped-def]
    """A delivery report: the message's status; a final failure moves the alert to the next contact."""
    form = request.form
    provider_id = form.get("id", "").strip()
    status = form.get("status", "").strip()[:30]
    if not provider_id or len(provider_id) > PROVIDER_ID_MAX or not status:
        return plain("id and status are required", 400)
    rt = runtime()
    now = utcnow()
    follow_ups: list[int] = []
    with rt.db.session() as session:
        if not _first_time(session, "delivery", provider_id, status):
            return plain("OK (already handled)")
        message = session.scalar(select(Message).where(Message.provider_message_id == provider_id))
        if message is None:
            log.info("delivery report %s for no message of ours", provider_id)
            return plain("OK (unknown message)")
        if outbox.apply_delivery_report(session, message, status, form.get("failureReason", "").strip(), now):
            follow_ups = lifecycle.fail_over(rt, session, message, now)
    outbox.dispatch(rt, follow_ups)
    return plain("OK")


def _first_time(session: Session, kind: str, provider_id: str, status: str) -> bool:
    """Record a callback; False when it was handled before (the provider resends)."""
    seen = select(ProviderCallback.id).where(
        ProviderCallback.kind == kind, ProviderCallback.provider_id == provider_id, ProviderCallback.status == status
    )
    if session.scalar(seen) is not None:
        return False
    session.add(ProviderCallback(kind=kind, provider_id=provider_id, status=status))
    try:
        session.flush()
    except IntegrityError:
        # The same callback is being handled by another request right now.
        session.rollback()
        return False
    return True
