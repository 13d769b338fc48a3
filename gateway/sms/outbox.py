"""Outgoing SMS: a Message row written before sending, sent or queued after commit, updated by the provider."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from rq import Retry
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.models import Message, Referral
from gateway.referrals import timeline
from gateway.runtime import SEND_SMS_JOB, SENDING_QUEUE, Runtime, job_id
from gateway.sms.provider import NO_CREDIT, REJECTED, SendResult
from gateway.vocabulary import SETTLED, EventKind, MessageKind, MessageStatus

log = logging.getLogger(__name__)

# Seconds between the attempts at a message the provider could not take now (RQ's scheduler
# runs them): after the first attempt, one more after each.
BACKOFF = (15, 60, 300, 900, 1800)
# The send job of a message not tried yet: at once, then the whole backoff.
SEND_RETRY = Retry(max=len(BACKOFF), interval=list(BACKOFF))
# The send job of a message tried once already (by the job that wrote it): it starts after
# the first interval, then the rest of the backoff.
LATER_RETRY = Retry(max=len(BACKOFF) - 1, interval=list(BACKOFF[1:]))
# Seconds after which a message still queued or sending is stalled (lost job, dead worker).
STALLED_AFTER = 120
# Seconds after its last attempt before a message still waiting for a retry is queued again
# by the sweeper (RQ's retries ran out during a long provider outage).
RETRY_AGAIN_AFTER = 900
# Where a session notes the claim time and the messages claimed as they are written (session.info).
_CLAIMING = "outbox_claiming"
# Message statuses from which a send may start.
SENDABLE = (MessageStatus.QUEUED, MessageStatus.RETRYING)
# Message statuses that no later answer changes.
FINAL = (MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.CANCELLED)
# Delivery report statuses (Africa's Talking): delivered, and failed for good.
DELIVERED = "Success"
FINAL_FAILURES = frozenset({"Failed", "Rejected", "AbsentSubscriber", "Expired"})


def add(
    session: Session,
    *,
    to: str,
    body: str,
    kind: MessageKind,
    referral_id: int | None = None,
    officer_id: int | None = None,
    flush: bool = True,
) -> Message:
    """A message row, queued; once the transaction is committed, a worker sends it
    (workers.jobs.send_now) and the web app queues its send job (dispatch()).
    flush=False: its id comes with the caller's next flush (several rows in one statement)."""
    message = Message(
        to=to, body=body, kind=kind, referral_id=referral_id, officer_id=officer_id, status=MessageStatus.QUEUED
    )
    claiming = session.info.get(_CLAIMING)
    if claiming is not None:
        at, written = claiming
        message.status, message.attempts, message.updated_at = MessageStatus.SENDING, 1, at
        written.append(message)
    session.add(message)
    if flush:
        session.flush()
    return message


def dispatch(rt: Runtime, message_ids: Iterable[int]) -> None:
    """Queue the send job of committed messages; if Redis fails now, the sweeper queues them later."""
    for message_id in message_ids:
        _queue(rt, message_id, SEND_RETRY)


def retry_later(rt: Runtime, message_id: int) -> None:
    """Queue the send job of a message whose first attempt failed now, to run after the first interval."""
    _queue(rt, message_id, LATER_RETRY, BACKOFF[0])


def _queue(rt: Runtime, message_id: int, retry: Retry, delay: int = 0) -> None:
    try:
        rt.enqueue(
            SEND_SMS_JOB,
            message_id,
            job_id=job_id(SEND_SMS_JOB, message_id),
            retry=retry,
            delay=delay,
            queue=SENDING_QUEUE,
        )
    except Exception:
        log.exception("could not queue message %s; the sweeper will queue it", message_id)


class Claimed(NamedTuple):
    """A message marked as being sent (at: when), with what sending and recording it needs."""

    id: int
    to: str
    body: str
    kind: str
    referral_id: int | None
    officer_id: int | None
    at: datetime


# What a claim returns of each message it marks as being sent.
_CLAIMED = (Message.id, Message.to, Message.body, Message.kind, Message.referral_id, Message.officer_id)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Messages a sender may claim: waiting to be sent, or left "sending" by a sender gone long ago."""
    stale = now - timedelta(seconds=STALLED_AFTER)
    return or_(Message.status.in_(SENDABLE), and_(Message.status == MessageStatus.SENDING, Message.updated_at < stale))


def _mark_sending(now: datetime) -> dict[str, object]:
    return {"status": MessageStatus.SENDING, "attempts": Message.attempts + 1, "updated_at": now}


def claim(rt: Runtime, message_id: int, now: datetime) -> Claimed | None:
    """Mark a message as being sent (one sender at a time); what sending it needs, or None if not ours to send."""
    with rt.db.transaction() as session:
        # One statement claims the message and returns what sending it needs.
        row = session.execute(
            update(Message)
            .where(Message.id == message_id, _claimable(now))
            .values(_mark_sending(now))
            .returning(*_CLAIMED)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None:
            return None
        claimed = Claimed(*row, at=now)
        if claimed.kind == MessageKind.ALERT and claimed.referral_id is not None:
            status = session.scalar(select(Referral.status).where(Referral.id == claimed.referral_id))
            if status in SETTLED:
                # Somebody answered while this alert waited for a retry: nobody else needs it.
                session.execute(
                    update(Message)
                    .where(Message.id == message_id)
                    .values(status=MessageStatus.CANCELLED, error=f"case already {status}")
                    .execution_options(synchronize_session=False)
                )
                return None
        return claimed


def claim_as_written(session: Session, now: datetime) -> None:
    """Messages written from now on in session's transaction are claimed as they are written
    (born "sending", one attempt): the caller sends them as soon as it is committed, taking
    them from claimed_in(). Should it die before sending them, they are "sending" and stalled
    after STALLED_AFTER, and the sweeper queues them again, as for any claim."""
    session.info[_CLAIMING] = (now, [])


def claimed_in(session: Session) -> list[Claimed]:
    """The messages claimed as they were written in session (its ids given by its flushes)."""
    at, written = session.info.get(_CLAIMING, (None, []))
    return [Claimed(m.id, m.to, m.body, m.kind, m.referral_id, m.officer_id, at) for m in written]


def still_ours(rt: Runtime, claimed: Claimed, now: datetime) -> Claimed | None:
    """A claim made a while ago (the message waited for a sender thread), renewed if nobody took
    it over since; None when it is no longer ours to send. Fresh claims need no statement."""
    if now - claimed.at < timedelta(seconds=STALLED_AFTER / 2):
        return claimed
    with rt.db.transaction() as session:
        renewed = session.execute(
            update(Message)
            .where(
                Message.id == claimed.id,
                Message.status == MessageStatus.SENDING,
                Message.updated_at == claimed.at,
            )
            .values(updated_at=now)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).one_or_none()
    return claimed._replace(at=now) if renewed is not None else None


def postpone(message: Message, error: str, result: SendResult | None = None) -> None:
    """The provider could not take the message now: it waits for a retry."""
    message.status = MessageStatus.RETRYING
    message.error = error[:200]
    if result is not None:
        message.provider_status = result.provider_status or None
    metrics.SMS_RETRYING.labels(_code(result) if result is not None else "no_answer").inc()


def record_not_accepted(session: Session, claimed: Claimed, result: SendResult) -> Message:
    """A provider's answer other than accepted (record_sent writes those), on the claimed
    message's row and its referral's timeline: refused for good, or waiting for a retry. The row,
    as changed."""
    message = session.get_one(Message, claimed.id)
    message.provider_status = result.provider_status or None
    message.cost = result.cost
    if result.outcome == REJECTED:
        message.status = MessageStatus.FAILED
        message.error = f"refused by the provider: {result.status_code} {result.provider_status}"[:200]
        metrics.SMS_FAILED.labels(message.kind, "send", _code(result)).inc()
        _event(session, message, EventKind.FAILED, timeline.SYSTEM, f"refused: {result.provider_status}")
    else:
        if result.outcome == NO_CREDIT:
            metrics.OUT_OF_CREDIT.inc()
        postpone(message, f"provider said {result.status_code} {result.provider_status}", result)
    return message


def record_sent(session: Session, sent: list[tuple[Claimed, SendResult, datetime]]) -> None:
    """Messages the provider accepted (each with the time it answered), written together: one
    UPDATE by id run for each, their timeline lines in one INSERT at the flush."""
    session.execute(
        update(Message),
        [
            {
                "id": claimed.id,
                "status": MessageStatus.SENT,
                "provider_message_id": result.provider_message_id,
                "provider_status": result.provider_status or None,
                "cost": result.cost,
                "sent_at": at,
                "error": None,
            }
            for claimed, result, at in sent
        ],
    )
    for claimed, result, at in sent:
        metrics.SMS_SENT.labels(claimed.kind, _code(result)).inc()
        _event(session, claimed, EventKind.SENT, timeline.SYSTEM, "", at)


def apply_delivery_report(session: Session, message: Message, status: str, reason: str, now: datetime) -> bool:
    """Update a message from a delivery report; True when it has just failed for good.

    A later final report corrects an earlier final one (delivered after failed, or the other
    way); an in-flight status never undoes a final one; a failure moves the alert on once."""
    final = status == DELIVERED or status in FINAL_FAILURES or reason in FINAL_FAILURES
    if message.status == MessageStatus.CANCELLED or (message.status in FINAL and not final):
        return False
    was_failed = message.status == MessageStatus.FAILED
    message.provider_status = status[:30]
    if status == DELIVERED:
        message.status = MessageStatus.DELIVERED
        message.delivered_at = now
        message.error = None
        metrics.SMS_DELIVERED.labels(message.kind).inc()
        _event(session, message, EventKind.DELIVERED, timeline.PROVIDER, "corrected" if was_failed else "")
        return False
    if status in FINAL_FAILURES or reason in FINAL_FAILURES:
        if was_failed:
            return False
        message.delivered_at = None
        message.status = MessageStatus.FAILED
        message.error = f"delivery failed: {status} {reason}".strip()[:200]
        metrics.SMS_FAILED.labels(message.kind, "delivery", status if status in FINAL_FAILURES else reason).inc()
        _event(session, message, EventKind.FAILED, timeline.PROVIDER, f"not delivered: {reason or status}")
        return True
    message.status = MessageStatus.SENT
    return False


def _code(result: SendResult) -> str:
    """The provider's statusCode as a metric label."""
    return str(result.status_code) if result.status_code is not None else "none"


def stalled(session: Session, now: datetime) -> list[int]:
    """Messages a lost job or a restarted Redis left unsent, oldest first."""
    stale = now - timedelta(seconds=STALLED_AFTER)
    long_ago = now - timedelta(seconds=RETRY_AGAIN_AFTER)
    return list(
        session.scalars(
            select(Message.id)
            .where(
                or_(
                    and_(Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)), Message.updated_at < stale),
                    and_(Message.status == MessageStatus.RETRYING, Message.updated_at < long_ago),
                )
            )
            .order_by(Message.id)
        )
    )


def _event(
    session: Session, message: Message | Claimed, kind: EventKind, actor: str, detail: str, at: datetime | None = None
) -> None:
    """A referral alert's fate goes on the referral's timeline (replies to officers do not)."""
    if message.referral_id is None or message.kind != MessageKind.ALERT:
        return
    to = f"officer:{message.officer_id}" if message.officer_id else "?"
    said = f"alert to {to}" + (f"; {detail}" if detail else "")
    timeline.record(session, message.referral_id, kind, actor, said, at)


def by_provider_id(session: Session, provider_id: str) -> Message | None:
    """The message the provider knows by provider_id (a delivery report names it so)."""
    return session.scalar(select(Message).where(Message.provider_message_id == provider_id))
