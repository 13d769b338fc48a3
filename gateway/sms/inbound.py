"""An inbound SMS, by who sent it: an active officer's is a command, a registered volunteer's a
form (a report, a home visit, HELP), anybody else's a concern kept for triage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import limits
from gateway.limits import Limit
from gateway.models import Message, Officer
from gateway.phones import in_country
from gateway.referrals import reports as referral_reports
from gateway.runtime import Runtime
from gateway.sms import commands, outbox, texts
from gateway.sms import reports as sms_reports
from gateway.sms.reports import Effects
from gateway.ussd import callers
from gateway.vocabulary import CallerKind, MessageKind, MessageStatus


def dispatch(rt: Runtime, session: Session, provider_id: str, phone: str, text: str, now: datetime) -> Effects:
    """Carry out one inbound SMS in the caller's transaction; what is left to do once committed."""
    officer = session.scalar(select(Officer).where(Officer.phone == phone, Officer.active.is_(True)))
    if officer is not None:
        if not limits.allow(rt, Limit.COMMAND, rt.crypto.lookup_hash(phone), rt.settings.commands_per_hour):
            return Effects(_slow_down(rt, session, phone, officer.language, officer.id))
        return Effects(commands.handle(rt, session, officer, text, now))
    caller = callers.profile(rt, phone)
    volunteer = caller.kind == CallerKind.VOLUNTEER
    settings = rt.settings
    per_hour = settings.reports_per_hour_volunteer if volunteer else settings.reports_per_hour_unknown
    if not limits.allow(rt, Limit.REPORT, caller.phone_hash, per_hour):
        return Effects(_slow_down(rt, session, phone, caller.lang))
    if volunteer:
        return sms_reports.from_volunteer(rt, session, caller, provider_id, text)
    effects = sms_reports.from_community(rt, session, caller, provider_id, text)
    # Anybody's SMS gets its acknowledgement once an hour at most, and never abroad: an
    # attacker must not make the gateway pay for SMS to numbers of their choosing.
    if not (in_country(phone, settings.sms_country) and limits.allow(rt, Limit.HELP_SMS, caller.phone_hash, 1)):
        _cancel(session, effects.messages, "not sent: one acknowledgement an hour, none abroad")
        effects.messages = []
    return effects


def _slow_down(rt: Runtime, session: Session, phone: str, lang: str, officer_id: int | None = None) -> list[int]:
    """Past a limit: nothing is done, and one SMS an hour (in the country only) says so."""
    if not in_country(phone, rt.settings.sms_country):
        return []
    if not limits.allow(rt, Limit.HELP_SMS, "slow:" + rt.crypto.lookup_hash(phone), 1):
        return []
    body = texts.say("slow_down", lang)
    return [outbox.add(session, to=phone, body=body, kind=MessageKind.HELP, officer_id=officer_id).id]


def _cancel(session: Session, message_ids: list[int], why: str) -> None:
    for message_id in message_ids:
        message = session.get_one(Message, message_id)
        message.status, message.error = MessageStatus.CANCELLED, why


def after_commit(rt: Runtime, effects: Effects) -> None:
    """Send the replies, route the reports and visits, and remember the text (resends make nothing)."""
    outbox.dispatch(rt, effects.messages)
    referral_reports.queue_routing(rt, effects.reports, effects.visits)
    sms_reports.remember(rt, effects)
