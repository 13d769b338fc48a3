"""Referrals, messages and visits written straight into the database, as the routing job
and the SMS worker would leave them: for tests of lists, dashboards and exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.clock import utcnow
from gateway.models import Location, Message, Referral, Report, Visit, Volunteer
from gateway.referrals import lifecycle
from gateway.registry.imports import path_key
from gateway.runtime import Runtime
from menus.reference import check_digit
from tests.helpers import register_officers

RUSIZI_VILLAGE = ("Rusizi", "Nyakabuye", "Kamanu", "Site")
NYARUGENGE_VILLAGE = ("Nyarugenge", "Kimisagara", "Katabaro", "Ubumwe")
REPORTER_PHONE = "+250788765432"


def reference(n: int) -> str:
    body = str(200000 + n)
    return body + check_digit(body)


def place_id(rt: Runtime, *names: str) -> int:
    with rt.db.reading() as session:
        found = session.scalar(select(Location.id).where(Location.path == path_key(*names)))
    assert found is not None, names
    return found


def insert_case(
    rt: Runtime,
    n: int,
    village: tuple[str, ...] = RUSIZI_VILLAGE,
    *,
    category: str = "neglect",
    urgent: bool = False,
    status: str = "routed",
    created_at: datetime | None = None,
    acknowledged_after: timedelta | None = None,
    closed_after: timedelta | None = None,
    escalation_step: int = 0,
    flagged: bool = False,
    details: str | None = None,
    callback_ok: bool = False,
) -> int:
    """A community report and its referral; the referral's id."""
    created = created_at or datetime.now(UTC)
    with rt.db.transaction() as session:
        location = place_id(rt, *village)
        report = Report(
            session_id=f"case-{n}",
            reference=reference(n),
            reporter_phone_enc=rt.crypto.encrypt(REPORTER_PHONE),
            reporter_phone_hash=rt.crypto.lookup_hash(REPORTER_PHONE),
            category=category,
            urgent=urgent,
            age_band="5-11",
            sex="girl",
            location_id=location,
            details_enc=rt.crypto.encrypt(details) if details else None,
            callback_ok=callback_ok,
            tree_version="test",
            created_at=created,
        )
        session.add(report)
        session.flush()
        referral = Referral(
            report_id=report.id,
            reference=reference(n),
            category=category,
            urgent=urgent,
            age_band="5-11",
            sex="girl",
            location_id=location,
            district_id=place_id(rt, village[0]),
            reporter_kind="community",
            status=status,
            created_at=created,
            escalation_step=escalation_step,
            flagged=flagged,
        )
        if acknowledged_after is not None:
            referral.acknowledged_at = created + acknowledged_after
            referral.status = "acknowledged"
        if closed_after is not None:
            referral.closed_at = created + closed_after
            referral.status = "closed"
        session.add(referral)
        session.flush()
        return referral.id


def insert_message(
    rt: Runtime, referral_id: int, status: str, attempts: int = 1, created_at: datetime | None = None
) -> None:
    with rt.db.transaction() as session:
        session.add(
            Message(
                referral_id=referral_id,
                kind="alert",
                to="+250788000111",
                body="alert",
                status=status,
                attempts=attempts,
                created_at=created_at or datetime.now(UTC),
            )
        )


def insert_visit(
    rt: Runtime, n: int, village: tuple[str, ...], household: str, created_at: datetime | None = None
) -> None:
    with rt.db.transaction() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == "+250788999000"))
        if volunteer is None:
            volunteer = Volunteer(name="Test Volunteer", phone="+250788999000", village_id=place_id(rt, *village))
            session.add(volunteer)
            session.flush()
        session.add(
            Visit(
                session_id=f"visit-{n}",
                reference=reference(900 + n),
                volunteer_id=volunteer.id,
                village_id=place_id(rt, *village),
                household_code=household,
                concerns=[],
                created_at=created_at or datetime.now(UTC),
            )
        )


def sent_to_nyarugenge_then_moved_to_gasabo(rt: Runtime, n: int = 1) -> int:
    """With the officers of tests.helpers registered: a case reported in Nyarugenge, alerted to its
    on-duty officers, then transferred to Gasabo (placed in the wrong district), through the
    lifecycle: a Gasabo case that Nyarugenge's officers were alerted about. Its id."""
    register_officers(rt)
    referral_id = insert_case(rt, n, NYARUGENGE_VILLAGE, status="new", details="Locked in at night")
    with rt.db.transaction() as session:
        referral = session.get_one(Referral, referral_id)
        lifecycle.route(rt, session, referral, utcnow())
        gasabo = place_id(rt, "Gasabo")
        lifecycle.transfer(rt, session, referral, None, gasabo, utcnow(), via="admin web", actor="user:ada@example.org")
    return referral_id
