"""RQ jobs. Each takes ids, reloads state, and may run twice with its effects once.

Jobs that depend on the time take an optional `now` (tests move the clock with it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from rq.timeouts import JobTimeoutException
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway import keys, metrics, runtime
from gateway.clock import utcnow
from gateway.models import Message, Referral, Report, Visit
from gateway.referrals import digest, lifecycle, retention, rollup, routing
from gateway.referrals.reports import handed_over
from gateway.runtime import ROUTE_REPORT_JOB, ROUTE_VISIT_JOB, Runtime, job_id
from gateway.sms import outbox, texts
from gateway.sms.provider import ACCEPTED, NO_CREDIT, REJECTED, SendResult, SmsUnavailableError
from gateway.vocabulary import WAITING, MessageKind, MessageStatus, ReferralStatus
from workers import sender

log = logging.getLogger(__name__)

# What a routing job opens a referral from.
Routed = TypeVar("Routed", Report, Visit)
# Reminders a case may have: its officer, then the district supervisor.
REMINDER_STEPS = 2
# Seconds a report may wait for its routing job before the sweeper queues it again.
SWEEP_AFTER = 60


def route_report(report_id: int, now: datetime | None = None) -> int | None:
    """Turn a stored report into a referral and alert its officers (once); the referral's id."""
    return _open_and_route(Report, report_id, lifecycle.open_from_report, now)


def route_visit(visit_id: int, now: datetime | None = None) -> int | None:
    """Open the low-urgency follow-up referral of a home visit with concerns and alert its officers (once)."""
    return _open_and_route(Visit, visit_id, lifecycle.open_from_visit, now)


def _open_and_route(
    model: type[Routed],
    row_id: int,
    opener: Callable[[Runtime, Session, Routed], Referral | None],
    now: datetime | None,
) -> int | None:
    """Open the referral of a report or visit, route it, mark the row routed and claim its alerts,
    in one transaction; then send the alerts."""
    rt = runtime.current()
    with rt.db.transaction() as session:
        # The volunteer comes with the row: the alert may give their number.
        row = session.get(model, row_id, options=[joinedload(model.volunteer)])
        if row is None:
            log.warning("no %s %s to route", model.__tablename__, row_id)
            return None
        referral = opener(rt, session, row)
        if referral is None:
            return None
        now = now or utcnow()
        outbox.claim_as_written(session, utcnow())
        message_ids = lifecycle.route(rt, session, referral, now)
        row.routed_at = row.routed_at or now
    referral_id = referral.id  # a referral opened here is written at the commit if not before
    claimed = outbox.claimed_in(session)
    if message_ids:
        send_claimed(rt, claimed)
    else:
        # Routed by an earlier run: what it left unsent (again after a crash: harmless).
        _send_queued(rt, referral_id)
    return referral_id


def send_sms(message_id: int) -> str:
    """Send one message (a second run sends nothing); raise to be retried when worth it."""
    result = _send(runtime.current(), message_id)
    if result is None:
        return "not sendable (already sent, failed, or being sent)"
    if not result.settled:
        raise SmsUnavailableError(f"message {message_id}: provider said {result.status_code} {result.provider_status}")
    return result.outcome


def send_now(rt: Runtime, message_ids: Iterable[int]) -> None:
    """Send messages just committed, as send_sms does: one the provider cannot take now gets a
    send job after the first backoff interval; one whose sending broke is left to the sweeper
    (it stays queued or sending). On the process's sender pool when there is one (the job goes
    on at once, the messages are sent side by side), else here, one after the other."""
    _hand_over(rt, list(message_ids))


def send_claimed(rt: Runtime, claimed: Iterable[outbox.Claimed]) -> None:
    """send_now for messages claimed in the transaction that wrote them (outbox.claim_as_written)."""
    _hand_over(rt, list(claimed))


def _hand_over(rt: Runtime, messages: list[int] | list[outbox.Claimed]) -> None:
    pool = sender.current()
    for message in messages:
        if pool is not None:
            pool.submit(functools.partial(_send_now, rt, message))
        else:
            _send_now(rt, message)


def _send_now(rt: Runtime, message: int | outbox.Claimed) -> None:
    message_id = message if isinstance(message, int) else message.id
    try:
        result = _send(rt, message_id, None if isinstance(message, int) else message)
    except SmsUnavailableError:
        outbox.retry_later(rt, message_id)
        return
    except JobTimeoutException:
        raise
    except Exception:
        log.exception("sending message %s failed; the sweeper will queue it", message_id)
        return
    if result is not None and not result.settled:
        outbox.retry_later(rt, message_id)


def _send(rt: Runtime, message_id: int, claimed: outbox.Claimed | None = None) -> SendResult | None:
    """Claim (unless claimed already), send and record one message (on a sender thread, an
    accepted one with the others that end meanwhile), and send its follow-ups; None if not ours
    to send.

    Raises SmsUnavailableError (the message waits for a retry) when the provider gave no answer.
    """
    mine = outbox.claim(rt, message_id, utcnow()) if claimed is None else outbox.still_ours(rt, claimed, utcnow())
    if mine is None:
        return None
    try:
        with metrics.SMS_SEND_SECONDS.time():
            result = rt.sms.send(mine.to, mine.body)
    except SmsUnavailableError as exc:
        with rt.db.transaction() as session:
            outbox.postpone(session.get_one(Message, message_id), str(exc))
        raise
    now = utcnow()
    if result.outcome == ACCEPTED:
        accepted = _Accepted(rt, mine, result, now)
        if sender.on_sender_thread():
            _ACCEPTED.add(accepted)  # recorded with the sends that end meanwhile
        else:
            _record_accepted([accepted])
        return result
    follow_ups: list[int] = []
    with rt.db.transaction() as session:
        message = outbox.record_not_accepted(session, mine, result)
        if result.outcome == REJECTED:
            follow_ups = lifecycle.fail_over(rt, session, message, now)
        elif result.outcome == NO_CREDIT and mine.kind != MessageKind.NOTICE:
            follow_ups = _tell_desk_out_of_credit(rt, session)
    send_now(rt, follow_ups)
    return result


class _Accepted(NamedTuple):
    rt: Runtime
    claimed: outbox.Claimed
    result: SendResult
    at: datetime


def _record_accepted(accepted: list[_Accepted]) -> None:
    """Record sends the provider accepted, in one transaction (per runtime); should that fail,
    one at a time, so that one bad record keeps no other from being written."""
    by_runtime: dict[int, list[_Accepted]] = {}
    for a in accepted:
        by_runtime.setdefault(id(a.rt), []).append(a)
    for same in by_runtime.values():
        rt, sent = same[0].rt, [(a.claimed, a.result, a.at) for a in same]
        if not _recorded(rt, sent) and len(sent) > 1:
            for one in sent:
                _recorded(rt, [one])


def _recorded(rt: Runtime, sent: list[tuple[outbox.Claimed, SendResult, datetime]]) -> bool:
    """False (logged) when the records could not be written: their messages stay "sending" and
    are stalled after outbox.STALLED_AFTER, when the sweeper queues them again."""
    try:
        with rt.db.transaction() as session:
            outbox.record_sent(session, sent)
    except JobTimeoutException:
        raise
    except Exception:
        log.exception("recording %d sent message(s) failed", len(sent))
        return False
    return True


# The records of sends made on the sender pool, written together (workers.sender.GroupWriter).
_ACCEPTED = sender.GroupWriter(_record_accepted)


def escalate(now: datetime | None = None) -> int:
    """Move every referral left unacknowledged past its delay one tier up its chain; how many moved."""
    rt = runtime.current()
    now = now or utcnow()
    with rt.db.reading() as session:
        due = session.scalars(
            select(Referral.id)
            .where(Referral.status.in_(WAITING), Referral.escalate_at <= now)
            .order_by(Referral.escalate_at)
        ).all()
    moved = 0
    for referral_id in due:
        with rt.db.transaction() as session:
            referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
            # Acknowledged or escalated by another run since the list was read.
            if referral is None or referral.escalate_at is None or referral.escalate_at > now:
                continue
            message_ids = lifecycle.escalate(rt, session, referral, now)
            moved += 1
            urgency = "urgent" if referral.urgent else "normal"
        metrics.ESCALATIONS.labels(urgency).inc()
        send_now(rt, message_ids)
    if moved:
        log.info("escalate: %d referral(s) moved one tier up", moved)
    return moved


def remind(now: datetime | None = None) -> int:
    """Remind the officers (then the supervisors) of cases still open days after they were taken;
    how many cases had a reminder."""
    rt = runtime.current()
    now = now or utcnow()
    held_since = now - timedelta(days=rt.settings.reminder_days)
    with rt.db.reading() as session:
        due = session.scalars(
            select(Referral.id).where(
                Referral.status == ReferralStatus.ACKNOWLEDGED,
                Referral.acknowledged_at <= held_since,
                Referral.reminder_step < REMINDER_STEPS,
            )
        ).all()
    reminded = 0
    for referral_id in due:
        with rt.db.transaction() as session:
            referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
            if referral is None:
                continue
            step = referral.reminder_step
            message_ids = lifecycle.remind(rt, session, referral, now)
            reminded += referral.reminder_step > step
        send_now(rt, message_ids)
    if reminded:
        log.info("remind: %d case(s) still open had a reminder", reminded)
    return reminded


def send_digests(now: datetime | None = None) -> int:
    """Today's digest to the district supervisors who have not had it (from DIGEST_HOUR on); how many went."""
    rt = runtime.current()
    with rt.db.transaction() as session:
        message_ids = digest.send_due(rt, session, now or utcnow())
    send_now(rt, message_ids)
    if message_ids:
        log.info("send_digests: %d supervisor(s) had today's digest", len(message_ids))
    return len(message_ids)


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Queue again what a lost job or a restarted Redis left undone (a report or visit still
    waiting in the routing inbox, during a burst the workers are behind on, is not lost)."""
    rt = runtime.current()
    now = now or utcnow()
    settled = now - timedelta(seconds=SWEEP_AFTER)
    with rt.db.reading() as session:
        reports = session.scalars(
            select(Report.id).where(Report.routed_at.is_(None), Report.created_at < settled)
        ).all()
        visits = session.scalars(select(Visit.id).where(Visit.routed_at.is_(None), Visit.created_at < settled)).all()
        messages = outbox.stalled(session, now)
    if reports or visits:
        waiting_reports, waiting_visits = handed_over(rt)
        reports = [i for i in reports if i not in waiting_reports]
        visits = [i for i in visits if i not in waiting_visits]
    for report_id in reports:
        rt.enqueue(route_report, report_id, job_id=job_id(ROUTE_REPORT_JOB, report_id))
    for visit_id in visits:
        rt.enqueue(route_visit, visit_id, job_id=job_id(ROUTE_VISIT_JOB, visit_id))
    outbox.dispatch(rt, messages)
    if reports or visits or messages:
        counts = len(reports), len(visits), len(messages)
        log.info("sweep: queued again %d report(s), %d visit(s), %d message(s)", *counts)
    requeued = {"reports": len(reports), "visits": len(visits), "messages": len(messages)}
    for what, count in requeued.items():
        if count:
            metrics.SWEEPER_REQUEUED.labels(what).inc(count)
    return requeued


def _send_queued(rt: Runtime, referral_id: int) -> None:
    """Send a referral's messages not yet sent (again after a crash: harmless)."""
    with rt.db.reading() as session:
        queued = session.scalars(
            select(Message.id).where(Message.referral_id == referral_id, Message.status == MessageStatus.QUEUED)
        ).all()
    send_now(rt, queued)


def _tell_desk_out_of_credit(rt: Runtime, session: Session) -> list[int]:
    """One SMS an hour at most to the national desk: the account is out of credit. The SMS
    itself may wait for credit too, so a flag in Redis says so to /readyz/work (and an ERROR
    log line to whoever watches the logs)."""
    rt.redis.set(keys.no_credit(), "1", ex=keys.NO_CREDIT_TTL)
    if not rt.redis.set(keys.credit_notice(), "1", nx=True, ex=keys.CREDIT_NOTICE_TTL):
        return []
    log.error("the SMS account is out of credit: alerts wait for a top-up")
    return [
        outbox.add(
            session, to=o.phone, body=texts.say("out_of_credit", o.language), kind=MessageKind.NOTICE, officer_id=o.id
        ).id
        for o in routing.national_desk(session)
    ]


def erase_expired(now: datetime | None = None) -> dict[str, int]:
    """Erase the personal data of cases closed more than RETENTION_DAYS ago (once an hour at
    most: queued every tick, it does nothing while another run's lock holds)."""
    rt = runtime.current()
    if now is None and not rt.redis.set(keys.retention_lock(), "1", nx=True, ex=keys.RETENTION_EVERY):
        return {"cases": 0, "callbacks": 0, "session_ends": 0}
    erased = retention.erase_expired(rt, now or utcnow())
    if erased.cases:
        log.info("retention: personal data of %s closed cases erased", erased.cases)
    return {"cases": erased.cases, "callbacks": erased.callbacks, "session_ends": erased.session_ends}


# Days back the workers keep the dashboards' roll-up counted (a year's dashboard and more),
# and how many days one transaction counts (each stays well inside the statement timeout).
ROLLUP_DAYS = 400
ROLLUP_CHUNK_DAYS = 31


def refresh_rollup(now: datetime | None = None) -> int:
    """Keep the dashboards' daily roll-up counted (every ROLLUP_EVERY at most: queued every
    tick, it does nothing while another run's lock holds), so that no officer's dashboard
    waits for days to be counted; how many days were counted."""
    rt = runtime.current()
    if now is None and not rt.redis.set(keys.rollup_lock(), "1", nx=True, ex=keys.ROLLUP_EVERY):
        return 0
    now = now or utcnow()
    yesterday = rollup.local_day(now) - timedelta(days=1)
    first = yesterday - timedelta(days=ROLLUP_DAYS)
    counted = 0
    while first <= yesterday:
        last = min(first + timedelta(days=ROLLUP_CHUNK_DAYS - 1), yesterday)
        with rt.db.transaction() as session:
            done = rollup.refresh(session, first, last, now)
        if done is None:
            break  # another refresh is at work (a dashboard's, or the command's)
        counted += done
        first = last + timedelta(days=1)
    if counted:
        log.debug("roll-up: %s days counted for the dashboards", counted)
    return counted
