"""Reading cases: which referrals a reader may see, and what of each they may see.

Admins and viewers read every referral; an officer reads their district's, and those sent
to the registry officer they are linked to (an Assignment: alerted, escalated to, failed
over to, reassigned, or transferred in and routed to them), as the SMS commands let that
officer act on them. Everyone who may read a referral sees its category, urgency, place and
timeline. Its private fields (the reporter's free text, the officer's close note, and the
reporter's phone when the reporter agreed to be called back) are for admins and those
officers only; viewers never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, cast, func, select
from sqlalchemy.orm import Session, selectinload

from gateway.accounts.users import Reader
from gateway.crypto import Crypto
from gateway.models import Assignment, Event, Message, Officer, Referral
from gateway.phones import mask_numbers, masked
from gateway.referrals import routing, timeline
from gateway.registry.places import PlaceIndex
from gateway.vocabulary import WAITING, UserRole
from menus.reference import is_valid

# Orders of the case list: newest first, or the most overdue first.
ORDER_NEWEST = "newest"
ORDER_OVERDUE = "overdue"
ORDERS = (ORDER_NEWEST, ORDER_OVERDUE)
# Levels of a referral's place shown by name, below its district.
PLACE_LEVELS = ("village", "cell", "sector")


@dataclass(frozen=True)
class CaseFilter:
    """What a list of referrals is narrowed to; empty fields narrow nothing."""

    statuses: tuple[str, ...] = ()
    district_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    urgent: bool | None = None
    categories: tuple[str, ...] = ()


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC to the second, e.g. 2026-03-01T08:30:00Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def find(session: Session, reader: Reader, reference: str) -> Referral | None:
    """The referral of a reference, when it exists and the reader may see it."""
    if not is_valid(reference):
        return None
    query = select(Referral).where(Referral.reference == reference.strip())
    seen = visible(reader)
    return session.scalar(query if seen is None else query.where(seen))


def visible(reader: Reader) -> ColumnElement[bool] | None:
    """The condition on Referral of what the reader may see; None: every referral."""
    if not reader.scoped:
        return None
    theirs = Referral.district_id == reader.district_id
    if reader.officer_id is None:
        return theirs
    return theirs | Referral.id.in_(select(Assignment.referral_id).where(Assignment.officer_id == reader.officer_id))


def page(
    session: Session, reader: Reader, narrow: CaseFilter, limit: int, before_id: int | None = None
) -> tuple[list[Referral], int | None]:
    """Up to limit referrals the reader may see, newest first, and the id to continue before."""
    query = narrowed(select(Referral).order_by(Referral.id.desc()).limit(limit + 1), reader, narrow)
    if before_id is not None:
        query = query.where(Referral.id < before_id)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def narrowed(query: Select[Referral], reader: Reader, narrow: CaseFilter) -> Select[Referral]:
    """query limited to the referrals the reader may see that match narrow."""
    seen = visible(reader)
    if seen is not None:
        query = query.where(seen)
    if narrow.statuses:
        query = query.where(Referral.status.in_(narrow.statuses))
    if narrow.district_id is not None:
        query = query.where(Referral.district_id == narrow.district_id)
    if narrow.since is not None:
        query = query.where(Referral.created_at >= narrow.since)
    if narrow.until is not None:
        query = query.where(Referral.created_at < narrow.until)
    if narrow.urgent is not None:
        query = query.where(Referral.urgent.is_(narrow.urgent))
    if narrow.categories:
        query = query.where(Referral.category.in_(narrow.categories))
    return query


def listing(
    session: Session,
    reader: Reader,
    narrow: CaseFilter,
    order: str,
    targets: tuple[int, int],
    offset: int,
    limit: int,
) -> tuple[list[Referral], bool]:
    """A page of the referrals the reader may see, ordered "newest" first or "overdue" first
    (those waiting for an officer, the furthest past their escalation delay first; targets:
    the urgent and the normal delay in seconds), and whether another page follows."""
    query = narrowed(select(Referral), reader, narrow)
    if order == ORDER_OVERDUE:
        created = epoch_of(session, Referral.created_at)
        due = case((Referral.urgent.is_(True), created + targets[0]), else_=created + targets[1])
        waiting = Referral.status.in_(WAITING)
        query = query.order_by(case((waiting, 0), else_=1), case((waiting, due), else_=-created), Referral.id.desc())
    else:
        query = query.order_by(Referral.created_at.desc(), Referral.id.desc())
    rows = list(session.scalars(query.offset(offset).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def epoch_of(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a time column, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)


def may_see_private(session: Session, reader: Reader, referral: Referral) -> bool:
    """Admins, officers of the referral's district and an officer it was sent to; never viewers."""
    if reader.role == UserRole.ADMIN:
        return True
    if reader.role != UserRole.OFFICER:
        return False
    if reader.district_id == referral.district_id:
        return True
    return reader.officer_id is not None and reader.officer_id in routing.assigned(session, referral)


def place(places: PlaceIndex, referral: Referral) -> dict[str, str | None]:
    """The names of the referral's village, cell, sector and district."""
    names: dict[str, str | None] = {}
    for level in PLACE_LEVELS:
        found = places.ancestor(referral.location_id, level)
        names[level] = found.name if found else None
    district = places.get(referral.district_id)
    names["district"] = district.name if district else None
    return names


def summary(places: PlaceIndex, referral: Referral) -> dict[str, Any]:
    """What a list shows of a referral: nothing a reporter typed or dialled from."""
    return {
        "reference": referral.reference,
        "status": referral.status,
        "category": referral.category,
        "urgent": referral.urgent,
        "age_band": referral.age_band,
        "sex": referral.sex,
        "place": place(places, referral),
        "reporter_kind": referral.reporter_kind,
        "flagged": referral.flagged,
        "created_at": iso(referral.created_at),
        "acknowledged_at": iso(referral.acknowledged_at),
        "closed_at": iso(referral.closed_at),
        "escalation_step": referral.escalation_step,
        "outcome": referral.outcome,
        # An earlier case this one is possibly (confirmed: surely) about; officers confirm or undo it.
        "possibly_same_as": (
            {"reference": referral.duplicate_of.reference, "confirmed": referral.duplicate_confirmed}
            if referral.duplicate_of is not None
            else None
        ),
    }


class Names:
    """How people read a timeline: an officer by name and role instead of officer:<id>, a person
    of the admin web by email (the others, "system" and "provider", as they are)."""

    def __init__(self, session: Session, events: Sequence[Event]) -> None:
        ids = {int(i) for e in events for i in timeline.OFFICER_MENTION.findall(f"{e.actor} {e.detail}")}
        self.officers = {
            o.id: f"{o.name} ({o.role.replace('_', ' ')})"
            for o in session.scalars(select(Officer).where(Officer.id.in_(ids)))
        }

    def actor(self, actor: str) -> str:
        officer_id = timeline.officer_of(actor)
        if officer_id is not None:
            return self.officers.get(officer_id, actor)
        return actor.removeprefix(timeline.USER_PREFIX)

    def detail(self, detail: str) -> str:
        return timeline.OFFICER_MENTION.sub(lambda m: self.officers.get(int(m[1]), m[0]), detail)


def _officer(officer: Officer | None) -> dict[str, str] | None:
    return {"name": officer.name, "role": officer.role} if officer else None


def detail(
    session: Session, places: PlaceIndex, crypto: Crypto, reader: Reader, referral_id: int
) -> tuple[dict[str, Any], list[str]]:
    """A referral with its timeline and assignments, and the names of the private fields shown."""
    referral = session.scalars(
        select(Referral)
        .where(Referral.id == referral_id)
        .options(selectinload(Referral.events), selectinload(Referral.report))
    ).one()
    assignments = session.scalars(
        select(Assignment)
        .where(Assignment.referral_id == referral.id)
        .options(selectinload(Assignment.officer))
        .order_by(Assignment.step, Assignment.id)
    ).all()
    acknowledged_by = session.get(Officer, referral.acknowledged_by_id) if referral.acknowledged_by_id else None
    names = Names(session, referral.events)
    report = referral.report
    body = summary(places, referral) | {
        "channel": referral.channel,
        "domains": referral.domains,
        "callback_ok": report.callback_ok if report else None,
        "acknowledged_by": _officer(acknowledged_by),
        "timeline": [
            {"kind": e.kind, "actor": e.actor, "detail": e.detail, "at": iso(e.at), "note": None}
            # The same as people read it (officers by name).
            | {"by": names.actor(e.actor), "said": names.detail(e.detail)}
            for e in referral.events
        ],
        "assignments": [
            {"officer": _officer(a.officer), "step": a.step, "reason": a.reason, "at": iso(a.created_at)}
            for a in assignments
        ],
    }
    private: dict[str, str | None] = {"details": None, "reporter_phone": None, "close_note": None}
    disclosed: list[str] = []
    private_shown = may_see_private(session, reader, referral)
    if private_shown:
        if report is not None and report.details_enc is not None:
            private["details"] = crypto.decrypt(report.details_enc)
        if report is not None and report.callback_ok and report.reporter_phone_enc:
            private["reporter_phone"] = crypto.decrypt(report.reporter_phone_enc)
        if referral.close_note_enc is not None:
            private["close_note"] = crypto.decrypt(referral.close_note_enc)
        disclosed = [name for name, value in private.items() if value is not None]
        for line, event in zip(body["timeline"], referral.events, strict=True):
            if event.note_enc is not None:
                line["note"] = crypto.decrypt(event.note_enc)
        if any(event.note_enc is not None for event in referral.events):
            disclosed.append("notes")
    body |= private | {"private_fields": "shown" if private_shown else "hidden"}
    return body, disclosed


def messages(session: Session, reader: Reader, referral: Referral) -> list[dict[str, Any]]:
    """The SMS of a referral, oldest first; full numbers only for admins, and only officers'."""
    rows: Sequence[Message] = session.scalars(
        select(Message).where(Message.referral_id == referral.id).order_by(Message.id)
    ).all()
    private = may_see_private(session, reader, referral)
    officers = {
        o.id: o
        for o in session.scalars(select(Officer).where(Officer.id.in_({m.officer_id for m in rows if m.officer_id})))
    }
    return [
        {
            "id": m.id,
            "kind": m.kind,
            # A number that is not an officer's may be the reporter's: never shown in full.
            "to": m.to if reader.role == UserRole.ADMIN and m.officer_id is not None else masked(m.to),
            "officer": _officer(officers.get(m.officer_id) if m.officer_id else None),
            # An alert names a volunteer reporter's number: whole only for who may see the reporter.
            "body": m.body if private else mask_numbers(m.body),
            "status": m.status,
            "provider_status": m.provider_status,
            "attempts": m.attempts,
            "cost": m.cost,
            "error": m.error,
            "created_at": iso(m.created_at),
            "sent_at": iso(m.sent_at),
            "delivered_at": iso(m.delivered_at),
        }
        for m in rows
    ]
