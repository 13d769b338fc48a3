"""Who gets a referral: the chain from the district's on-duty officers up to the national desk.

The chain of a referral, tier by tier:
  0 on_duty        the district's on-duty social workers and psychologists
                   (urgent: also the on-duty contacts of the sector of the place)
  1 next_officer   the district's other social workers and psychologists
  2 supervisor     the district's supervisors
  3 national_desk  the national duty desk
A referral first goes to the lowest tier that has anybody; when that is the national desk
(nobody registered for the district) it is flagged. Unacknowledged, it climbs one tier per
delay (ESCALATION_URGENT_SECONDS / ESCALATION_NORMAL_SECONDS); an alert that cannot be
delivered goes to the next contact of the chain not yet alerted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Assignment, Message, Officer, Referral, Visit
from gateway.referrals import timeline
from gateway.runtime import Runtime
from gateway.sms import outbox, texts

# Names of the tiers of the chain, by step.
TIERS = ("on_duty", "next_officer", "supervisor", "national_desk")
NATIONAL_DESK = TIERS.index("national_desk")
# Roles that take a district's cases first.
CASE_ROLES = ("social_worker", "psychologist")
# Statuses in which a referral still waits for an officer.
WAITING = ("new", "routed")


@dataclass(frozen=True)
class Contact:
    officer: Officer
    step: int
    reason: str


def chain(rt: Runtime, session: Session, referral: Referral) -> list[list[Contact]]:
    """Every tier of the referral's chain, each a list of contacts (possibly empty)."""
    active = select(Officer).where(Officer.active.is_(True)).order_by(Officer.id)
    district = active.where(Officer.district_id == referral.district_id)
    on_duty = [
        Contact(o, 0, "on_duty")
        for o in session.scalars(district.where(Officer.role.in_(CASE_ROLES), Officer.on_duty.is_(True)))
    ]
    sector = rt.places.ancestor(referral.location_id, "sector")
    if referral.urgent and sector is not None:
        on_duty += [
            Contact(o, 0, "sector_contact")
            for o in session.scalars(
                active.where(
                    Officer.role == "sector_contact", Officer.sector_id == sector.id, Officer.on_duty.is_(True)
                )
            )
        ]
    next_officers = [
        Contact(o, 1, "next_officer")
        for o in session.scalars(district.where(Officer.role.in_(CASE_ROLES), Officer.on_duty.is_(False)))
    ]
    supervisors = [
        Contact(o, 2, "supervisor")
        for o in _on_duty_first(session.scalars(district.where(Officer.role == "supervisor")))
    ]
    desk = [
        Contact(o, 3, "national_desk")
        for o in _on_duty_first(session.scalars(active.where(Officer.role == "national_desk")))
    ]
    return [on_duty, next_officers, supervisors, desk]


def national_desk(session: Session) -> list[Officer]:
    """The national desk's active officers, those on duty if any."""
    return _on_duty_first(
        session.scalars(
            select(Officer).where(Officer.role == "national_desk", Officer.active.is_(True)).order_by(Officer.id)
        )
    )


def route(rt: Runtime, session: Session, referral: Referral, now: datetime) -> list[int]:
    """Send a new referral to the first tier of its chain that has anybody; the messages to dispatch."""
    if referral.status != "new" or _assigned(session, referral):
        return []
    tiers = chain(rt, session, referral)
    step = next((i for i, tier in enumerate(tiers) if tier), None)
    district = rt.places.label(referral.district_id)
    if step is None:
        referral.flagged = True
        referral.escalate_at = now + delay(rt, referral)
        timeline.record(
            session,
            referral.id,
            "routed",
            timeline.SYSTEM,
            f"nobody registered for district {district} and no national desk: flagged, trying again later",
            now,
        )
        return []
    referral.flagged = step == NATIONAL_DESK
    why = (
        f"nobody registered for district {district}: national desk, flagged"
        if referral.flagged
        else f"district {district}, {TIERS[step]}" + (" (urgent: with sector contacts)" if referral.urgent else "")
    )
    return _alert(rt, session, referral, tiers[step], step, now, "routed", why)


def escalate(rt: Runtime, session: Session, referral: Referral, now: datetime) -> list[int]:
    """Move an unacknowledged referral one tier up its chain; the messages to dispatch."""
    if referral.status not in WAITING:
        referral.escalate_at = None
        return []
    assigned = _assigned(session, referral)
    if not assigned:
        # Nobody was registered anywhere so far: try the whole chain again.
        return route(rt, session, referral, now)
    tiers = chain(rt, session, referral)
    for step in range(referral.escalation_step + 1, len(tiers)):
        fresh = [c for c in tiers[step] if c.officer.id not in assigned]
        if fresh:
            return _alert(rt, session, referral, fresh, step, now, "escalated", f"unacknowledged: {TIERS[step]}")
    referral.escalate_at = None
    timeline.record(session, referral.id, "escalated", timeline.SYSTEM, "unacknowledged at the top of the chain", now)
    return []


def fail_over(rt: Runtime, session: Session, message: Message, now: datetime) -> list[int]:
    """An alert that failed for good goes to the next contact of the chain not yet alerted (once)."""
    if message.kind != "alert" or message.referral_id is None:
        return []
    referral = session.get(Referral, message.referral_id)
    reason = f"failover:{message.id}"
    if referral is None or referral.status not in WAITING:
        return []
    if session.scalar(select(Assignment.id).where(Assignment.referral_id == referral.id, Assignment.reason == reason)):
        return []
    assigned = _assigned(session, referral)
    for tier in chain(rt, session, referral):
        for contact in tier:
            if contact.officer.id not in assigned:
                detail = f"alert to officer:{message.officer_id} failed: next contact ({TIERS[contact.step]})"
                contacts = [Contact(contact.officer, contact.step, reason)]
                # The clock keeps running: others of the referral may have had their alert.
                return _alert(rt, session, referral, contacts, contact.step, now, "routed", detail, restart_clock=False)
    timeline.record(session, referral.id, "failed", timeline.SYSTEM, "no further contact to fail over to", now)
    return []


def delay(rt: Runtime, referral: Referral) -> timedelta:
    """How long a referral waits for an acknowledgement before climbing one tier."""
    settings = rt.settings
    seconds = settings.escalation_urgent_seconds if referral.urgent else settings.escalation_normal_seconds
    return timedelta(seconds=seconds)


def alert_text(rt: Runtime, session: Session, referral: Referral, lang: str, unanswered: bool = False) -> str:
    """The alert SMS of a referral in lang (the volunteer's number only for a registered volunteer;
    unanswered: it is escalated because nobody acknowledged it in time)."""
    return texts.alert(
        lang,
        reference=referral.reference,
        urgent=referral.urgent,
        category_key=referral.category,
        age_band=referral.age_band,
        sex=referral.sex,
        place=rt.places.path_label(referral.location_id),
        volunteer_phone=_volunteer_phone(session, referral),
        unanswered=unanswered,
    )


def _alert(
    rt: Runtime,
    session: Session,
    referral: Referral,
    contacts: list[Contact],
    step: int,
    now: datetime,
    kind: str,
    why: str,
    restart_clock: bool = True,
) -> list[int]:
    """Assign contacts at step, write their alerts; the referral is routed up to at least step."""
    message_ids = []
    for contact in contacts:
        officer = contact.officer
        session.add(Assignment(referral_id=referral.id, officer_id=officer.id, step=step, reason=contact.reason))
        body = alert_text(rt, session, referral, officer.language, unanswered=kind == "escalated")
        message = outbox.add(
            session, to=officer.phone, body=body, kind="alert", referral_id=referral.id, officer_id=officer.id
        )
        message_ids.append(message.id)
    referral.status = "routed"
    referral.escalation_step = max(step, referral.escalation_step or 0)
    if restart_clock or referral.escalate_at is None:
        referral.escalate_at = now + delay(rt, referral)
    names = ", ".join(f"officer:{c.officer.id} ({c.reason})" for c in contacts)
    timeline.record(session, referral.id, kind, timeline.SYSTEM, f"{why}; step {step}: {names}", now)
    return message_ids


def _assigned(session: Session, referral: Referral) -> set[int]:
    return set(session.scalars(select(Assignment.officer_id).where(Assignment.referral_id == referral.id)))


def _on_duty_first(officers: Iterable[Officer]) -> list[Officer]:
    """Those on duty if any, else all of them."""
    everyone = list(officers)
    on_duty = [o for o in everyone if o.on_duty]
    return on_duty or everyone


def _volunteer_phone(session: Session, referral: Referral) -> str | None:
    if referral.reporter_kind != "volunteer":
        return None
    if referral.report is not None:
        volunteer = referral.report.volunteer
    elif referral.visit_id is not None:
        visit = session.get(Visit, referral.visit_id)
        volunteer = visit.volunteer if visit else None
    else:
        volunteer = None
    return volunteer.phone if volunteer is not None else None
