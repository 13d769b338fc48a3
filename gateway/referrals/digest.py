"""The daily digest: each district supervisor's one SMS about the district's cases, at a set hour.

Sent once a day (Rwanda's time) from DIGEST_HOUR on, and only when there is something to
say: new cases in the last day, open ones, overdue ones (held past REMINDER_DAYS), ones
escalated and still unanswered, and alerts that could not be delivered in the last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from gateway.clock import LOCAL_TIME
from gateway.models import Message, Officer, Referral
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.vocabulary import WAITING, MessageKind, MessageStatus, OfficerRole, ReferralStatus

# What a digest looks back on for "new" cases and undelivered alerts.
LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True)
class Figures:
    """A district's cases, as a digest counts them."""

    new: int
    open: int
    overdue: int
    escalated: int
    failed: int

    def worth_saying(self) -> bool:
        return any((self.new, self.open, self.overdue, self.escalated, self.failed))


def due_since(rt: Runtime, now: datetime) -> datetime | None:
    """When today's digest became due (DIGEST_HOUR, Rwanda's time), or None before that hour."""
    local = now.astimezone(LOCAL_TIME)
    due = local.replace(hour=rt.settings.digest_hour, minute=0, second=0, microsecond=0)
    return due if local >= due else None


def figures(rt: Runtime, session: Session, district_id: int, now: datetime) -> Figures:
    """The counts of one district's digest."""
    in_district = Referral.district_id == district_id
    open_ = Referral.status != ReferralStatus.CLOSED

    def count(*where: ColumnElement[bool]) -> int:
        return session.scalar(select(func.count(Referral.id)).where(in_district, *where)) or 0

    held_too_long = now - timedelta(days=rt.settings.reminder_days)
    failed = session.scalar(
        select(func.count(Message.id))
        .join(Referral, Referral.id == Message.referral_id)
        .where(
            in_district,
            Message.kind == MessageKind.ALERT,
            Message.status == MessageStatus.FAILED,
            Message.updated_at >= now - LOOK_BACK,
        )
    )
    return Figures(
        new=count(Referral.created_at >= now - LOOK_BACK),
        open=count(open_),
        overdue=count(Referral.status == ReferralStatus.ACKNOWLEDGED, Referral.acknowledged_at <= held_too_long),
        escalated=count(Referral.status.in_(WAITING), Referral.escalation_step > 0),
        failed=failed or 0,
    )


def send_due(rt: Runtime, session: Session, now: datetime) -> list[int]:
    """Today's digest to every active supervisor who has not had it yet and whose district has
    something to say; the messages to dispatch."""
    due = due_since(rt, now)
    if due is None:
        return []
    had_it = select(Message.officer_id).where(Message.kind == MessageKind.DIGEST, Message.created_at >= due)
    supervisors = session.scalars(
        select(Officer)
        .where(
            Officer.role == OfficerRole.SUPERVISOR,
            Officer.active.is_(True),
            Officer.district_id.is_not(None),
            Officer.id.not_in(had_it),
        )
        .order_by(Officer.id)
    ).all()
    message_ids: list[int] = []
    date = now.astimezone(LOCAL_TIME).strftime("%d/%m")
    for officer in supervisors:
        assert officer.district_id is not None
        counts = figures(rt, session, officer.district_id, now)
        if not counts.worth_saying():
            continue
        body = texts.say(
            "digest",
            officer.language,
            district=rt.places.label(officer.district_id),
            date=date,
            new=counts.new,
            open=counts.open,
            overdue=counts.overdue,
            escalated=counts.escalated,
            failed=counts.failed,
        )
        message = outbox.add(session, to=officer.phone, body=body, kind=MessageKind.DIGEST, officer_id=officer.id)
        message.created_at = now
        message_ids.append(message.id)
    return message_ids
