"""RQ jobs. Each takes ids, reloads state, and may run twice with its effects once.

Jobs that depend on the time take an optional `now` (tests move the clock with it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from rq.timeouts import JobTimeoutException
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import keys, runtime
from gateway.clock import utcnow
from gateway.models import Event, Message, Referral, Report, Visit
from gateway.referrals import routing
from gateway.referrals.timeline import SYSTEM
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.sms.provider import NO_CREDIT, REJECTED, SendResult, SmsUnavailableError

log = logging.getLogger(__name__)

# Seconds a report may wait for its routing job before the sweeper queues it again.
SWEEP_AFTER = 60


def route_report(report_id: int, now: datetime | None = None) -> int | None:
    """Turn a stored report into a referral and alert its officers (once); the referral's id."""
    rt = runtime.current()
    with rt.db.transaction() as session:
        report = session.get(Report, report_id)
        if report is None:
            log.warning("route_report: no report %s", report_id)
            return None
        referral = session.scalar(select(Referral).where(Referral.report_id == report_id))
        if referral is None:
            district = rt.places.ancestor(report.location_id, "district")
            referral = Referral(
                report_id=report.id,
                reference=report.reference,
                category=report.category,
                urgent=report.urgent,
                age_band=report.age_band,
                sex=report.sex,
                location_id=report.location_id,
                district_id=district.id if district else report.location_id,
                reporter_kind="volunteer" if report.volunteer_id else "community",
                channel=report.channel,
                status="new",
            )
            session.add(referral)
            session.flush()
            session.add(
                Event(referral_id=referral.id, kind="created", actor=SYSTEM, detail=f"from a {report.channel} report")
            )
        now = now or utcnow()
        routing.route(rt, session, referral, now)
        report.routed_at = report.routed_at or now
        referral_id = referral.id
    _send_queued(rt, referral_id)
    return referral_id


def route_visit(visit_id: int, now: datetime | None = None) -> int | None:
    """Open the low-urgency follow-up referral of a home visit with concerns and alert its officers (once)."""
    rt = runtime.current()
    with rt.db.transaction() as session:
        visit = session.get(Visit, visit_id)
        if visit is None or not visit.concerns:
            return None
        referral = session.scalar(select(Referral).where(Referral.visit_id == visit_id))
        if referral is None:
            district = rt.places.ancestor(visit.village_id, "district")
            referral = Referral(
                visit_id=visit.id,
                reference=visit.reference,
                category="placement",
                urgent=False,
                age_band="unknown",
                sex="unknown",
                location_id=visit.village_id,
                district_id=district.id if district else visit.village_id,
                reporter_kind="volunteer",
                channel="visit",
                status="new",
                domains=list(visit.concerns),
            )
            session.add(referral)
            session.flush()
            detail = "home visit concerns: " + ", ".join(visit.concerns)
            session.add(Event(referral_id=referral.id, kind="created", actor=SYSTEM, detail=detail))
        now = now or utcnow()
        routing.route(rt, session, referral, now)
        visit.routed_at = visit.routed_at or now
        referral_id = referral.id
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
    """Send messages just committed, in this job, as send_sms does: one the provider cannot take
    now gets a send job after the first backoff interval; one whose sending broke is left to the
    sweeper (it stays queued or sending)."""
    for message_id in message_ids:
        try:
            result = _send(rt, message_id)
        except SmsUnavailableError:
            outbox.retry_later(rt, message_id)
            continue
        except JobTimeoutException:
            raise
        except Exception:
            log.exception("sending message %s failed; the sweeper will queue it", message_id)
            continue
        if result is not None and not result.settled:
            outbox.retry_later(rt, message_id)


def _send(rt: Runtime, message_id: int) -> SendResult | None:
    """Claim, send and record one message, and send its follow-ups; None if not ours to send.

    Raises SmsUnavailableError (the message waits for a retry) when the provider gave no answer.
    """
    claimed = outbox.claim(rt, message_id, utcnow())
    if claimed is None:
        return None
    to, body = claimed
    try:
        result = rt.sms.send(to, body)
    except SmsUnavailableError as exc:
        with rt.db.transaction() as session:
            outbox.postpone(session.get_one(Message, message_id), str(exc))
        raise
    now = utcnow()
    follow_ups: list[int] = []
    with rt.db.transaction() as session:
        message = session.get_one(Message, message_id)
        outbox.record_result(session, message, result, now)
        if result.outcome == REJECTED:
            follow_ups = routing.fail_over(rt, session, message, now)
        elif result.outcome == NO_CREDIT and message.kind != "notice":
            follow_ups = _tell_desk_out_of_credit(rt, session)
    send_now(rt, follow_ups)
    return result


def escalate(now: datetime | None = None) -> int:
    """Move every referral left unacknowledged past its delay one tier up its chain; how many moved."""
    rt = runtime.current()
    now = now or utcnow()
    with rt.db.reading() as session:
        due = session.scalars(
            select(Referral.id)
            .where(Referral.status.in_(routing.WAITING), Referral.escalate_at <= now)
            .order_by(Referral.escalate_at)
        ).all()
    moved = 0
    for referral_id in due:
        with rt.db.transaction() as session:
            referral = session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
            # Acknowledged or escalated by another run since the list was read.
            if referral is None or referral.escalate_at is None or referral.escalate_at > now:
                continue
            message_ids = routing.escalate(rt, session, referral, now)
            moved += 1
        send_now(rt, message_ids)
    if moved:
        log.info("escalate: %d referral(s) moved one tier up", moved)
    return moved


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Queue again what a lost job or a restarted Redis left undone."""
    rt = runtime.current()
    now = now or utcnow()
    settled = now - timedelta(seconds=SWEEP_AFTER)
    with rt.db.reading() as session:
        reports = session.scalars(
            select(Report.id).where(Report.routed_at.is_(None), Report.created_at < settled)
        ).all()
        visits = session.scalars(select(Visit.id).where(Visit.routed_at.is_(None), Visit.created_at < settled)).all()
        messages = outbox.stalled(session, now)
    for report_id in reports:
        rt.enqueue(route_report, report_id, job_id=f"route-report-{report_id}")
    for visit_id in visits:
        rt.enqueue(route_visit, visit_id, job_id=f"route-visit-{visit_id}")
    outbox.dispatch(rt, messages)
    if reports or visits or messages:
        counts = len(reports), len(visits), len(messages)
        log.info("sweep: queued again %d report(s), %d visit(s), %d message(s)", *counts)
    return {"reports": len(reports), "visits": len(visits), "messages": len(messages)}


def _send_queued(rt: Runtime, referral_id: int) -> None:
    """Send a referral's messages not yet sent (again after a crash: harmless)."""
    with rt.db.reading() as session:
        queued = session.scalars(
            select(Message.id).where(Message.referral_id == referral_id, Message.status == "queued")
        ).all()
    send_now(rt, queued)


def _tell_desk_out_of_credit(rt: Runtime, session: Session) -> list[int]:
    """One SMS an hour at most to the national desk: the account is out of credit."""
    if not rt.redis.set(keys.credit_notice(), "1", nx=True, ex=keys.CREDIT_NOTICE_TTL):
        return []
    log.error("the SMS account is out of credit: alerts wait for a top-up")
    return [
        outbox.add(session, to=o.phone, body=texts.say("out_of_credit", o.language), kind="notice", officer_id=o.id).id
        for o in routing.national_desk(session)
    ]
