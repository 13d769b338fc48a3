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
delivered goes to the next contact of the chain not yet alerted. What happens to the
referral on the way (its status, its timeline) is `gateway.referrals.lifecycle`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gateway.models import Assignment, Officer, Referral, Visit
from gateway.runtime import Runtime
from gateway.sms import texts
from gateway.vocabulary import CASE_ROLES, OfficerRole, ReporterKind, ReportKind

# Names of the tiers of the chain, by step.
TIERS = ("on_duty", "next_officer", "supervisor", "national_desk")
NATIONAL_DESK = TIERS.index("national_desk")


@dataclass(frozen=True)
class Contact:
    officer: Officer
    step: int
    reason: str


def chain(rt: Runtime, session: Session, referral: Referral) -> list[list[Contact]]:
    """Every tier of the referral's chain, each a list of contacts (possibly empty); a referral in
    no district (a community SMS that named none) goes to the national desk alone.

    One query reads every officer the chain may name (the district's, its sector's contacts,
    the national desk), with their duty as it is now: an officer switched off duty is skipped
    by the very next alert."""
    if referral.district_id is None:
        return [[], [], [], [Contact(o, 3, "national_desk") for o in national_desk(session)]]
    sector = rt.places.ancestor(referral.location_id, "sector") if referral.urgent else None
    named = or_(Officer.district_id == referral.district_id, Officer.role == OfficerRole.NATIONAL_DESK)
    if sector is not None:
        named = or_(named, and_(Officer.role == OfficerRole.SECTOR_CONTACT, Officer.sector_id == sector.id))
    with session.no_autoflush:  # what the caller wrote so far goes in its own flush
        officers = session.scalars(select(Officer).where(Officer.active.is_(True), named).order_by(Officer.id)).all()
    district = [o for o in officers if o.district_id == referral.district_id]
    case_officers = [o for o in district if o.role in CASE_ROLES]
    on_duty = [Contact(o, 0, "on_duty") for o in case_officers if o.on_duty]
    if sector is not None:
        on_duty += [
            Contact(o, 0, "sector_contact")
            for o in officers
            if o.role == OfficerRole.SECTOR_CONTACT and o.sector_id == sector.id and o.on_duty
        ]
    next_officers = [Contact(o, 1, "next_officer") for o in case_officers if not o.on_duty]
    supervisors = [
        Contact(o, 2, "supervisor") for o in _on_duty_first(o for o in district if o.role == OfficerRole.SUPERVISOR)
    ]
    desk = [
        Contact(o, 3, "national_desk")
        for o in _on_duty_first(o for o in officers if o.role == OfficerRole.NATIONAL_DESK)
    ]
    return [on_duty, next_officers, supervisors, desk]


def national_desk(session: Session) -> list[Officer]:
    """The national desk's active officers, those on duty if any."""
    return _on_duty_first(
        session.scalars(
            select(Officer)
            .where(Officer.role == OfficerRole.NATIONAL_DESK, Officer.active.is_(True))
            .order_by(Officer.id)
        )
    )


def supervisors(session: Session, district_id: int | None) -> list[Officer]:
    """A district's active supervisors, those on duty if any."""
    if district_id is None:
        return []
    return _on_duty_first(
        session.scalars(
            select(Officer)
            .where(Officer.role == OfficerRole.SUPERVISOR, Officer.district_id == district_id, Officer.active.is_(True))
            .order_by(Officer.id)
        )
    )


def delay(rt: Runtime, referral: Referral) -> timedelta:
    """How long a referral waits for an acknowledgement before climbing one tier."""
    settings = rt.settings
    seconds = settings.escalation_urgent_seconds if referral.urgent else settings.escalation_normal_seconds
    return timedelta(seconds=seconds)


def alert_text(rt: Runtime, session: Session, referral: Referral, lang: str, unanswered: bool = False) -> str:
    """The alert SMS of a referral in lang (the volunteer's number only for a registered volunteer;
    unanswered: it is escalated because nobody acknowledged it in time; a community SMS's case says
    only that there is one to read; a possible duplicate names the earlier case)."""
    earlier = session.get(Referral, referral.duplicate_of_id) if referral.duplicate_of_id else None
    same_as = earlier.reference if earlier is not None else None
    if referral.report is not None and referral.report.kind == ReportKind.TRIAGE:
        district = rt.places.get(referral.district_id)
        return texts.triage_alert(
            lang,
            reference=referral.reference,
            district=district.name if district else None,
            unanswered=unanswered,
            same_as=same_as,
        )
    return texts.alert(
        lang,
        reference=referral.reference,
        urgent=referral.urgent,
        category_key=referral.category,
        age_band=referral.age_band,
        sex=referral.sex,
        place=place_label(rt, referral),
        volunteer_phone=_volunteer_phone(session, referral),
        unanswered=unanswered,
        same_as=same_as,
    )


def place_label(rt: Runtime, referral: Referral) -> str:
    """Where a case is, for an SMS: village/cell/sector, or the district's name when that is all
    that is known (a transferred case, a community SMS that named a district); "" for nowhere."""
    if referral.location_id is None:
        return ""
    return rt.places.path_label(referral.location_id) or rt.places.label(referral.location_id)


def assigned(session: Session, referral: Referral) -> set[int]:
    """Officers the referral was sent to so far."""
    return set(session.scalars(select(Assignment.officer_id).where(Assignment.referral_id == referral.id)))


def _on_duty_first(officers: Iterable[Officer]) -> list[Officer]:
    """Those on duty if any, else all of them."""
    everyone = list(officers)
    on_duty = [o for o in everyone if o.on_duty]
    return on_duty or everyone


def _volunteer_phone(session: Session, referral: Referral) -> str | None:
    if referral.reporter_kind != ReporterKind.VOLUNTEER:
        return None
    if referral.report is not None:
        volunteer = referral.report.volunteer
    elif referral.visit_id is not None:
        visit = session.get(Visit, referral.visit_id)
        volunteer = visit.volunteer if visit else None
    else:
        volunteer = None
    return volunteer.phone if volunteer is not None else None
