"""Retention: personal data of a closed case is erased RETENTION_DAYS after it was closed.

Erased: the caller's free text, the reporter's phone (encrypted and hashed), the officer's
closing note and notes on the timeline, and numbers in the case's SMS bodies; also the provider's callback rows and
end-of-session notifications older than RETENTION_DAYS. What stays is what statistics need
(category, urgency, age band, sex, place, dates, timeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from gateway.models import Event, Message, ProviderCallback, Referral, Report, UssdSessionEnd
from gateway.phones import mask_numbers
from gateway.referrals import timeline
from gateway.runtime import Runtime
from gateway.vocabulary import EventKind

# Cases erased in one transaction.
BATCH = 200


@dataclass(frozen=True)
class Erased:
    cases: int
    callbacks: int
    session_ends: int


def erase_expired(rt: Runtime, now: datetime) -> Erased:
    """Erase what RETENTION_DAYS says is kept no longer (idempotent: an erased case is skipped)."""
    cutoff = now - timedelta(days=rt.settings.retention_days)
    cases = 0
    while True:
        with rt.db.transaction() as session:
            rows = session.execute(
                select(Referral, Report)
                .outerjoin(Report, Report.id == Referral.report_id)
                .where(Referral.status == "closed", Referral.closed_at < cutoff)
                .where((Referral.close_note_enc.is_not(None)) | (Report.reporter_phone_hash != ""))
                .limit(BATCH)
            ).all()
            for referral, report in rows:
                referral.close_note_enc = None
                if report is not None:
                    report.details_enc = None
                    report.reporter_phone_enc = b""
                    report.reporter_phone_hash = ""
                    report.callback_ok = False
                for event in session.scalars(
                    select(Event).where(Event.referral_id == referral.id, Event.note_enc.is_not(None))
                ):
                    event.note_enc = None
                for message in session.scalars(select(Message).where(Message.referral_id == referral.id)):
                    message.body = mask_numbers(message.body)
                    if message.officer_id is None:
                        message.to = ""
                timeline.record(session, referral.id, EventKind.ERASED, timeline.SYSTEM, "personal data erased", now)
            cases += len(rows)
        if len(rows) < BATCH:
            break
    with rt.db.transaction() as session:
        callbacks = session.execute(delete(ProviderCallback).where(ProviderCallback.received_at < cutoff))
        ends = session.execute(delete(UssdSessionEnd).where(UssdSessionEnd.received_at < cutoff))
    return Erased(cases, int(callbacks.rowcount), int(ends.rowcount))  # type: ignore[attr-defined]
