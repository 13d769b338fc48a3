"""An inbound SMS, by who sent it: an active officer's is a command, a registered volunteer's a
form (a report, a home visit, HELP), anybody else's a concern kept for triage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Officer
from gateway.referrals import reports as referral_reports
from gateway.runtime import Runtime
from gateway.sms import commands, outbox
from gateway.sms import reports as sms_reports
from gateway.sms.reports import Effects
from gateway.ussd import callers
from gateway.vocabulary import CallerKind


def dispatch(rt: Runtime, session: Session, provider_id: str, phone: str, text: str, now: datetime) -> Effects:
    """Carry out one inbound SMS in the caller's transaction; what is left to do once committed."""
    officer = session.scalar(select(Officer).where(Officer.phone == phone, Officer.active.is_(True)))
    if officer is not None:
        return Effects(commands.handle(rt, session, officer, text, now))
    caller = callers.profile(rt, phone)
    if caller.kind == CallerKind.VOLUNTEER:
        return sms_reports.from_volunteer(rt, session, caller, provider_id, text)
    return sms_reports.from_community(rt, session, caller, provider_id, text)


def after_commit(rt: Runtime, effects: Effects) -> None:
    """Send the replies, route the reports and visits, and remember the text (resends make nothing)."""
    outbox.dispatch(rt, effects.messages)
    referral_reports.queue_routing(rt, effects.reports, effects.visits)
    sms_reports.remember(rt, effects)
