"""Reports and home visits: stored once per session before the caller sees a reference."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway import keys, metrics
from gateway.clock import utcnow
from gateway.models import Referral, Report, Visit
from gateway.redis_conn import Command, round_trip
from gateway.runtime import Runtime
from gateway.ussd.callers import Caller
from gateway.vocabulary import CallerKind, Channel, ReferralStatus, VisitDomain
from menus.reference import is_valid, new_reference

log = logging.getLogger(__name__)

# Attempts at drawing a reference number nobody has.
REFERENCE_ATTEMPTS = 10
# The tree string that tells a referral's status in one line (any other status: on its way).
STATUS_LINES: dict[str, str] = {
    ReferralStatus.NEW: "status_received",
    ReferralStatus.ROUTED: "status_routed",
    ReferralStatus.ACKNOWLEDGED: "status_acknowledged",
    ReferralStatus.CLOSED: "status_closed",
}


# How the routing inbox names a report and a visit.
INBOX_REPORT = "report"
INBOX_VISIT = "visit"

# What is stored with a reference number.
Stored = TypeVar("Stored", Report, Visit)


class ReportError(RuntimeError):
    """A report could not be stored."""


# Whether a reference number is given to a report or a visit already.
_TAKEN = select(
    or_(exists().where(Report.reference == bindparam("ref")), exists().where(Visit.reference == bindparam("ref")))
)


def _free_reference(connection: Connection) -> str:
    for _ in range(REFERENCE_ATTEMPTS):
        reference = new_reference()
        if not connection.scalar(_TAKEN, {"ref": reference}):
            return reference
    raise ReportError("no free reference number found")


@lru_cache(maxsize=16)
def _insert_statement(model: type[Report] | type[Visit], dialect: str, columns: tuple[str, ...]) -> Any:
    """INSERT the row of columns (reference included, all bound by name) unless the other table has
    that reference, doing nothing on a taken session_id or reference; RETURNING its id. One
    statement, so that in autocommit it is one round trip to the database; built once per process."""
    table = cast(Table, model.__table__)
    other = cast(Table, (Visit if model is Report else Report).__table__)
    binds = {c: bindparam(c, type_=table.c[c].type) for c in columns}
    row = select(*binds.values()).where(~exists().where(other.c.reference == binds["reference"]))
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert if dialect == "sqlite" else None
    if insert_into is None:
        raise ReportError(f"no single-statement insert for {dialect}")
    return insert_into(table).from_select(list(columns), row).on_conflict_do_nothing().returning(table.c.id)


def _store_once(rt: Runtime, model: type[Report] | type[Visit], values: dict[str, Any]) -> tuple[str, int | None]:
    """Insert the row of a USSD session, with a free reference: (its reference, its id);
    when the session stored one already (a resent hop), (that one's reference, None).

    The confirm hop waits on this, so the usual case is one statement in autocommit: one round
    trip to the database, durable when it returns. Nothing inserted means the session has its
    row already (a replay), or the reference drawn was taken (then another is drawn). A pooled
    connection the database has closed since its last use (a restart) fails the statement:
    it is tried once more on a fresh one (pooled connections are not pinged before every
    use: gateway.db), which is safe as a replay is.
    """
    table = cast(Table, model.__table__)
    for _ in range(REFERENCE_ATTEMPTS):
        row = {**values, "reference": new_reference()}
        statement = _insert_statement(model, rt.db.engine.dialect.name, tuple(row))
        try:
            row_id = _insert(rt, statement, row)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("the database connection was closed; storing the %s again", table.name)
            row_id = _insert(rt, statement, row)
        if row_id is not None:
            return row["reference"], int(row_id)
        with rt.db.engine.connect() as connection:
            earlier = connection.scalar(select(table.c.reference).where(table.c.session_id == values["session_id"]))
        if earlier is not None:
            return earlier, None
    raise ReportError("no free reference number found")


def _insert(rt: Runtime, statement: Any, row: dict[str, Any]) -> Any:
    """Run the one-statement insert in autocommit; the new row's id, or None."""
    try:
        return rt.db.autocommit().scalar(statement, row)
    except BaseException:
        rt.db.forget_autocommit()
        raise


def report_values(rt: Runtime, caller: Caller, answers: dict[str, Any], lang: str, version: str) -> dict[str, Any]:
    """The row of a report from the answers the menus store (by USSD or by a volunteer's SMS form)."""
    details = (answers.get("details") or "").strip()
    return dict(
        reporter_phone_enc=rt.crypto.encrypt(caller.phone),
        reporter_phone_hash=caller.phone_hash,
        volunteer_id=caller.volunteer_id,
        category=answers["category"],
        urgent=answers.get("urgent") == "yes",
        age_band=answers["age_band"],
        sex=answers["sex"],
        location_id=int(answers["location"]),
        details_enc=rt.crypto.encrypt(details) if details else None,
        callback_ok=caller.kind == CallerKind.VOLUNTEER or answers.get("callback") == "yes",
        wants_sms=answers.get("sms") == "yes",
        language=lang,
        tree_version=version,
    )


def visit_values(caller: Caller, household: str, concerns: list[VisitDomain]) -> dict[str, Any]:
    """The row of a volunteer's home visit (by USSD or by SMS)."""
    if caller.volunteer_id is None or caller.village_id is None:
        raise ReportError("only a registered volunteer records a home visit")
    return dict(
        volunteer_id=caller.volunteer_id,
        village_id=caller.village_id,
        household_code=household.upper(),
        concerns=concerns,
        # A visit with no concern has nothing to route.
        routed_at=None if concerns else utcnow(),
    )


def submit_report(
    rt: Runtime,
    session_id: str,
    caller: Caller,
    answers: dict[str, Any],
    lang: str,
    version: str,
    then: list[Command] | None = None,
) -> str:
    """Store the report of a session (once, whatever is resent); its reference number.

    then: Redis commands the caller sends in its next round trip (the USSD hop's session write):
    the hand-over to the workers joins them; without it, the hand-over is sent now."""
    values = report_values(rt, caller, answers, lang, version)
    reference, report_id = _store_once(rt, Report, {**values, "session_id": session_id})
    if report_id is not None:
        _count(Report, values)
        _hand_over_or_join(rt, then, reports=[report_id])
    return reference


def record_visit(
    rt: Runtime, session_id: str, caller: Caller, answers: dict[str, Any], then: list[Command] | None = None
) -> str:
    """Store a volunteer's home visit (once per session); its reference number. then: as submit_report's."""
    concerns = [d for d in VisitDomain if answers.get(f"domain_{d}") == "concern"]
    values = visit_values(caller, str(answers["household"]), concerns)
    reference, visit_id = _store_once(rt, Visit, {**values, "session_id": session_id})
    if visit_id is not None:
        _count(Visit, values)
    if concerns and visit_id is not None:
        _hand_over_or_join(rt, then, visits=[visit_id])
    return reference


def _hand_over_or_join(rt: Runtime, then: list[Command] | None, **rows: list[int]) -> None:
    if then is None:
        queue_routing(rt, **rows)
    else:
        then.extend(hand_over(**rows))


def add(session: Session, model: type[Stored], values: dict[str, Any]) -> Stored:
    """A report or visit with a free reference, in the caller's transaction (an SMS's: its
    provider id is recorded in the same one); queue_routing() once it is committed."""
    row = model(**values, reference=_free_reference(session.connection()))
    session.add(row)
    session.flush()
    _count(model, values)
    return row


def _count(model: type[Report] | type[Visit], values: dict[str, Any]) -> None:
    """A report (by channel) or a visit (with a concern or not) newly stored, for /metrics."""
    if model is Report:
        metrics.REPORTS.labels(str(values.get("channel") or Channel.USSD)).inc()
    else:
        metrics.VISITS.labels("yes" if values.get("concerns") else "no").inc()


def queue_routing(rt: Runtime, reports: Iterable[int] = (), visits: Iterable[int] = ()) -> None:
    """Hand committed reports and visits (a visit without concerns has none) to the workers for
    routing: one Redis command into the routing inbox, which a worker takes and routes
    (workers/inbox.py), so that the confirm hop does not build RQ jobs while the caller waits.
    If Redis fails now, the sweeper picks the rows up later."""
    commands = hand_over(reports, visits)
    if not commands:
        return
    try:
        round_trip(rt.redis, *commands)
    except Exception:
        log.exception("could not hand rows over for routing; the sweeper will queue them")


def hand_over(reports: Iterable[int] = (), visits: Iterable[int] = ()) -> list[Command]:
    """The Redis command (none or one) that hands committed reports and visits to the workers: their
    names pushed onto the routing inbox."""
    items = [f"{INBOX_REPORT}:{i}" for i in reports] + [f"{INBOX_VISIT}:{i}" for i in visits]
    return [("RPUSH", keys.routing_inbox(), *items)] if items else []


def inbox_item(item: str) -> tuple[str, int] | None:
    """What an item of the routing inbox names: (INBOX_REPORT or INBOX_VISIT, its id); None
    for an item that names neither."""
    kind, _, row_id = item.partition(":")
    if kind not in (INBOX_REPORT, INBOX_VISIT) or not row_id.isdigit():
        return None
    return kind, int(row_id)


def handed_over(rt: Runtime) -> tuple[set[int], set[int]]:
    """The reports and visits waiting in the routing inbox (a worker will take them)."""
    waiting: dict[str, set[int]] = {INBOX_REPORT: set(), INBOX_VISIT: set()}
    for item in cast(list[str], rt.redis.lrange(keys.routing_inbox(), 0, -1)):
        named = inbox_item(item)
        if named is not None:
            waiting[named[0]].add(named[1])
    return waiting[INBOX_REPORT], waiting[INBOX_VISIT]


def status_key(rt: Runtime, reference: str, caller: Caller) -> str:
    """Which status line a caller may see for a reference (a tree string name).

    Only the phone that filed the report, or a volunteer of the same village, sees more
    than "received"; a well-formed reference nobody has also answers "received", so that
    a stranger cannot tell which references exist. A mistyped one (its check digit fails)
    is "not found".
    """
    if not is_valid(reference):
        return "status_not_found"
    with rt.db.reading() as session:
        report = session.scalar(select(Report).where(Report.reference == reference))
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        visit = session.scalar(select(Visit).where(Visit.reference == reference))
        if report is None and visit is None:
            return "status_received"
        mine = (report is not None and report.reporter_phone_hash == caller.phone_hash) or (
            visit is not None and visit.volunteer_id == caller.volunteer_id
        )
        neighbour = (
            caller.kind == CallerKind.VOLUNTEER and referral is not None and referral.location_id == caller.village_id
        )
        if not (mine or neighbour) or referral is None:
            return "status_received"
        return STATUS_LINES.get(referral.status, "status_routed")
