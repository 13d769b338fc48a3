"""A referral's whole life, in one place: every change of a case goes through a function here.

    open_from_report / open_from_visit   a new case (once per report or visit)
    route                                alerts to the first tier of its chain that has anybody
    escalate                             nobody answered in time: one tier up
    fail_over                            an alert failed for good: the next contact
    acknowledge                          an officer takes it (the others are told)
    close                                done, with an outcome and maybe a note
    reopen                               a closed case open again, with the officer who reopened it
    transfer                             placed in the wrong district: routed there from the start
    add_note                             a note on the timeline, kept encrypted
    reassign                             sent to another officer, who gets its alert
    link_duplicate / unlink_duplicate    possibly (or surely) the same child as an earlier case
    remind                               still open after days: its officer, then the supervisor

Each records its line on the case's timeline through `timeline.record`, and returns the
ids of the messages it wrote (the caller dispatches them once the transaction is
committed). An officer acts by SMS as an `Officer`, and so does a person in the admin web who
is linked to a registry officer; any other person in the admin web acts with officer=None
and `actor` naming them (the web has checked their role and district).
A transition that may not happen raises LifecycleError with a Refusal, and changes nothing.
Who gets a case is `routing`'s (the chain); SMS wording is `texts`'. Functions work in the
caller's transaction and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import metrics
from gateway.models import Assignment, Message, Officer, Referral, Report, Visit
from gateway.referrals import routing, timeline
from gateway.referrals.routing import NATIONAL_DESK, TIERS, Contact
from gateway.runtime import Runtime
from gateway.sms import outbox, texts
from gateway.vocabulary import (
    SETTLED,
    WAITING,
    AgeBand,
    Category,
    Channel,
    CloseOutcome,
    EventKind,
    MessageKind,
    MessageStatus,
    OfficerRole,
    ReferralStatus,
    ReporterKind,
    ReportKind,
    Sex,
    outcome_label,
)

__all__ = [
    "SETTLED",
    "WAITING",
    "LifecycleError",
    "Refusal",
    "acknowledge",
    "add_note",
    "close",
    "escalate",
    "fail_over",
    "may_act",
    "open_from_report",
    "open_from_visit",
    "reassign",
    "reopen",
    "route",
    "transfer",
    "link_duplicate",
    "unlink_duplicate",
    "possible_duplicate",
    "remind",
]


# Where a session notes the ids of the referrals opened in it (session.info).
OPENED = "referrals_opened"
# What a referral copies from the report it is opened from.
FROM_REPORT = ("reference", "category", "urgent", "age_band", "sex", "location_id", "channel")
# What a home visit's follow-up referral says of the child (a visit is about a household).
VISIT_CASE = {"category": Category.PLACEMENT, "urgent": False, "age_band": AgeBand.UNKNOWN, "sex": Sex.UNKNOWN}


class Refusal(StrEnum):
    """Why a transition was refused (each has an SMS text of the same name)."""

    ALREADY_CLOSED = "already_closed"  # closing, acknowledging or moving a closed case
    ALREADY_ACKNOWLEDGED = "already_acknowledged"  # another officer took it first
    NOT_ALLOWED = "not_your_case"  # the officer may not act on this case
    NOT_CLOSED = "not_closed"  # reopening a case that is open
    SAME_DISTRICT = "same_district"  # transferring a case to the district it is in
    NOT_LINKED = "not_linked"  # confirming or undoing a duplicate link that is not there


class LifecycleError(Exception):
    """A transition that may not happen; nothing was changed."""

    def __init__(self, refusal: Refusal, referral: Referral) -> None:
        super().__init__(f"{refusal} ({referral.reference})")
        self.refusal = refusal
        self.reference = referral.reference


# --- opening ------------------------------------------------------------------------------


def open_from_report(rt: Runtime, session: Session, report: Report) -> Referral:
    """The referral of a stored report: made once, found again when the job runs twice."""
    referral = session.scalar(select(Referral).where(Referral.report_id == report.id))
    if referral is not None:
        return referral
    copied = {name: getattr(report, name) for name in FROM_REPORT}
    kind = ReporterKind.VOLUNTEER if report.volunteer_id else ReporterKind.COMMUNITY
    referral = Referral(report=report, reporter_kind=kind, **copied)
    why = "a community SMS to triage" if report.kind == ReportKind.TRIAGE else f"from a {report.channel} report"
    _opened(rt, session, referral, why)
    if report.kind == ReportKind.CONCERN:
        with session.no_autoflush:  # the timeline line waits for the routing's one flush
            earlier = possible_duplicate(rt, session, referral, report.created_at)
        if earlier is not None:
            link_duplicate(session, referral, earlier, timeline.SYSTEM, report.created_at)
    return referral


def open_from_visit(rt: Runtime, session: Session, visit: Visit) -> Referral | None:
    """The low-urgency follow-up referral of a home visit with concerns (once); None without concerns."""
    if not visit.concerns:
        return None
    referral = session.scalar(select(Referral).where(Referral.visit_id == visit.id))
    if referral is not None:
        return referral
    referral = Referral(
        visit_id=visit.id,
        reference=visit.reference,
        location_id=visit.village_id,
        domains=list(visit.concerns),
        channel=Channel.VISIT,
        reporter_kind=ReporterKind.VOLUNTEER,
        **VISIT_CASE,
    )
    return _opened(rt, session, referral, "home visit concerns: " + ", ".join(visit.concerns))


def _opened(rt: Runtime, session: Session, referral: Referral, why: str) -> Referral:
    """A new referral, in the district of its place, on its timeline. It is written with its
    routing's rows, once its officers and alert text are known (on SQLite, the file's one writer
    is held from a transaction's first write to its commit)."""
    district = rt.places.ancestor(referral.location_id, "district")
    referral.district_id = district.id if district else referral.location_id
    referral.status = ReferralStatus.NEW
    session.add(referral)
    session.info.setdefault(OPENED, set()).add(referral)
    timeline.record(session, referral, EventKind.CREATED, timeline.SYSTEM, why)
    metrics.REFERRALS_CREATED.labels("visit" if referral.visit_id else "report").inc()
    return referral


# --- routing, escalation, failover ---------------------------------------------------------


def route(rt: Runtime, session: Session, referral: Referral, now: datetime) -> list[int]:
    """Send a new referral to the first tier of its chain that has anybody; the messages to dispatch."""
    if referral.status != ReferralStatus.NEW:
        return []
    # One opened in this transaction has nobody yet; another may have been routed by a run that broke.
    if referral not in session.info.get(OPENED, ()) and routing.assigned(session, referral):
        return []
    return _route_fresh(rt, session, referral, now, set())


def _route_fresh(rt: Runtime, session: Session, referral: Referral, now: datetime, skip: set[int]) -> list[int]:
    """Alert the first tier with anybody not in skip; flag the referral when that is the national desk."""
    tiers = [[c for c in tier if c.officer.id not in skip] for tier in routing.chain(rt, session, referral)]
    step = next((i for i, tier in enumerate(tiers) if tier), None)
    district = rt.places.label(referral.district_id)
    if step is None:
        referral.flagged = True
        referral.escalate_at = now + routing.delay(rt, referral)
        why = f"nobody registered for district {district} and no national desk: flagged, trying again later"
        timeline.record(session, referral, EventKind.ROUTED, timeline.SYSTEM, why, now)
        return []
    referral.flagged = step == NATIONAL_DESK
    why = (
        f"nobody registered for district {district}: national desk, flagged"
        if referral.flagged
        else f"district {district}, {TIERS[step]}" + (" (urgent: with sector contacts)" if referral.urgent else "")
    )
    return _alert(rt, session, referral, tiers[step], step, now, EventKind.ROUTED, why)


def escalate(rt: Runtime, session: Session, referral: Referral, now: datetime) -> list[int]:
    """Move an unacknowledged referral one tier up its chain; the messages to dispatch."""
    if referral.status not in WAITING:
        referral.escalate_at = None
        return []
    assigned = routing.assigned(session, referral)
    if not assigned:
        # Nobody was registered anywhere so far: try the whole chain again.
        return route(rt, session, referral, now)
    tiers = routing.chain(rt, session, referral)
    for step in range(referral.escalation_step + 1, len(tiers)):
        fresh = [c for c in tiers[step] if c.officer.id not in assigned]
        if fresh:
            why = f"unacknowledged: {TIERS[step]}"
            return _alert(rt, session, referral, fresh, step, now, EventKind.ESCALATED, why)
    referral.escalate_at = None
    why = "unacknowledged at the top of the chain"
    timeline.record(session, referral.id, EventKind.ESCALATED, timeline.SYSTEM, why, now)
    return []


def fail_over(rt: Runtime, session: Session, message: Message, now: datetime) -> list[int]:
    """An alert that failed for good goes to the next contact of the chain not yet alerted (once)."""
    if message.kind != MessageKind.ALERT or message.referral_id is None:
        return []
    referral = session.get(Referral, message.referral_id)
    reason = f"failover:{message.id}"
    if referral is None or referral.status not in WAITING:
        return []
    if session.scalar(select(Assignment.id).where(Assignment.referral_id == referral.id, Assignment.reason == reason)):
        return []
    assigned = routing.assigned(session, referral)
    for tier in routing.chain(rt, session, referral):
        for contact in tier:
            if contact.officer.id not in assigned:
                detail = f"alert to officer:{message.officer_id} failed: next contact ({TIERS[contact.step]})"
                contacts = [Contact(contact.officer, contact.step, reason)]
                # The clock keeps running: others of the referral may have had their alert.
                return _alert(
                    rt, session, referral, contacts, contact.step, now, EventKind.ROUTED, detail, restart_clock=False
                )
    timeline.record(session, referral.id, EventKind.FAILED, timeline.SYSTEM, "no further contact to fail over to", now)
    return []


def _alert(
    rt: Runtime,
    session: Session,
    referral: Referral,
    contacts: list[Contact],
    step: int,
    now: datetime,
    kind: EventKind,
    why: str,
    restart_clock: bool = True,
) -> list[int]:
    """Assign contacts at step, write their alerts; the referral is routed up to at least step."""
    messages = []
    unanswered = kind == EventKind.ESCALATED
    with session.no_autoflush:  # the rows go in the flushes below
        # One text per language.
        bodies = {
            lang: routing.alert_text(rt, session, referral, lang, unanswered)
            for lang in dict.fromkeys(c.officer.language for c in contacts)
        }
    referral.status = ReferralStatus.ROUTED
    referral.escalation_step = max(step, referral.escalation_step or 0)
    if restart_clock or referral.escalate_at is None:
        referral.escalate_at = now + routing.delay(rt, referral)
    if referral.id is None:
        session.flush()  # a new referral, routed (and its first lines): its id for the rows below
    for contact in contacts:
        officer = contact.officer
        session.add(Assignment(referral_id=referral.id, officer_id=officer.id, step=step, reason=contact.reason))
        body = bodies[officer.language]
        messages.append(
            outbox.add(
                session,
                to=officer.phone,
                body=body,
                kind=MessageKind.ALERT,
                referral_id=referral.id,
                officer_id=officer.id,
                flush=False,
            )
        )
    names = ", ".join(f"officer:{c.officer.id} ({c.reason})" for c in contacts)
    timeline.record(session, referral.id, kind, timeline.SYSTEM, f"{why}; step {step}: {names}", now)
    # One flush writes the assignments, the messages (their ids back) and the timeline line together.
    session.flush()
    return [message.id for message in messages]


# --- an officer's answers --------------------------------------------------------------------


def may_act(session: Session, officer: Officer, referral: Referral) -> bool:
    """An officer of the referral's district, one it was sent to, or the national desk."""
    if officer.role == OfficerRole.NATIONAL_DESK or officer.district_id == referral.district_id:
        return True
    sent_to = session.scalar(
        select(Assignment.id).where(Assignment.referral_id == referral.id, Assignment.officer_id == officer.id)
    )
    return sent_to is not None


def _authorize(session: Session, officer: Officer | None, referral: Referral) -> None:
    # officer=None: a person in the admin web, whose role and district the web has checked.
    if officer is not None and not may_act(session, officer, referral):
        raise LifecycleError(Refusal.NOT_ALLOWED, referral)


def acknowledge(
    session: Session, referral: Referral, officer: Officer | None, now: datetime, via: str = "SMS", *, actor: str = ""
) -> list[int]:
    """The officer takes the case: escalation stops, and everyone else whose alert went out is
    told it is taken (the notices to dispatch). Again by the same officer: nothing changes."""
    _authorize(session, officer, referral)
    if referral.status == ReferralStatus.CLOSED:
        raise LifecycleError(Refusal.ALREADY_CLOSED, referral)
    if referral.status == ReferralStatus.ACKNOWLEDGED:
        if officer is not None and referral.acknowledged_by_id == officer.id:
            return []
        raise LifecycleError(Refusal.ALREADY_ACKNOWLEDGED, referral)
    _take(referral, officer, now)
    actor = _named(officer, actor)
    timeline.record(session, referral.id, EventKind.ACKNOWLEDGED, actor, f"by {via}", now)
    return _tell_the_others(session, referral, officer)


def _take(referral: Referral, officer: Officer | None, now: datetime) -> None:
    referral.status = ReferralStatus.ACKNOWLEDGED
    referral.reminder_step = 0
    referral.acknowledged_at = now
    referral.acknowledged_by_id = officer.id if officer is not None else None
    referral.escalate_at = None


def _named(officer: Officer | None, actor: str) -> str:
    """Who a timeline line names: the given actor (a person in the admin web), else the officer."""
    if actor or officer is None:
        return actor or timeline.SYSTEM
    return timeline.officer_actor(officer)


def _tell_the_others(session: Session, referral: Referral, officer: Officer | None) -> list[int]:
    """Everyone else whose alert about the case went out hears that it is taken (one SMS each)."""
    others = session.scalars(
        select(Officer)
        .join(Message, Message.officer_id == Officer.id)
        .where(
            Message.referral_id == referral.id,
            Message.kind == MessageKind.ALERT,
            Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
            Officer.id != (officer.id if officer is not None else -1),
        )
        .distinct()
        .order_by(Officer.id)
    ).all()
    return [
        outbox.add(
            session,
            to=other.phone,
            body=texts.say("taken", other.language, ref=referral.reference),
            kind=MessageKind.NOTICE,
            referral_id=referral.id,
            officer_id=other.id,
        ).id
        for other in others
    ]


def close(
    rt: Runtime,
    session: Session,
    referral: Referral,
    officer: Officer | None,
    now: datetime,
    *,
    note: str = "",
    outcome: CloseOutcome | None = None,
    via: str = "SMS",
    actor: str = "",
) -> None:
    """The case is done: its outcome kept, its note encrypted; an unacknowledged one becomes the officer's."""
    _authorize(session, officer, referral)
    if referral.status == ReferralStatus.CLOSED:
        raise LifecycleError(Refusal.ALREADY_CLOSED, referral)
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
        referral.acknowledged_by_id = officer.id if officer is not None else None
    referral.status = ReferralStatus.CLOSED
    referral.closed_at = now
    referral.close_note_enc = rt.crypto.encrypt(note) if note else None
    referral.outcome = outcome
    referral.escalate_at = None
    detail = f"by {via}" + (f", outcome {outcome_label(outcome)}" if outcome else "")
    detail += ", with a note" if note else ""
    timeline.record(session, referral.id, EventKind.CLOSED, _named(officer, actor), detail, now)


def reopen(
    session: Session, referral: Referral, officer: Officer | None, now: datetime, via: str = "SMS", *, actor: str = ""
) -> None:
    """A closed case is open again, acknowledged by the officer who reopened it (no new alerts)."""
    _authorize(session, officer, referral)
    if referral.status != ReferralStatus.CLOSED:
        raise LifecycleError(Refusal.NOT_CLOSED, referral)
    _take(referral, officer, now)
    referral.closed_at = None
    referral.outcome = None
    referral.reminder_step = 0
    actor = _named(officer, actor)
    timeline.record(session, referral.id, EventKind.REOPENED, actor, f"by {via}; acknowledged by {actor}", now)


def transfer(
    rt: Runtime,
    session: Session,
    referral: Referral,
    officer: Officer | None,
    district_id: int,
    now: datetime,
    via: str = "SMS",
    *,
    actor: str = "",
) -> list[int]:
    """A case placed in the wrong district moves to district_id and is routed there from the start
    (its place becomes that district: the village it named was not in it); the alerts to dispatch."""
    _authorize(session, officer, referral)
    if referral.status == ReferralStatus.CLOSED:
        raise LifecycleError(Refusal.ALREADY_CLOSED, referral)
    if referral.district_id == district_id:
        raise LifecycleError(Refusal.SAME_DISTRICT, referral)
    before = routing.place_label(rt, referral) or "no place"
    # Alerts still waiting to go to the old district's officers are not needed any more.
    session.execute(
        update(Message)
        .where(
            Message.referral_id == referral.id,
            Message.kind == MessageKind.ALERT,
            Message.status.in_((MessageStatus.QUEUED, MessageStatus.RETRYING)),
        )
        .values(status=MessageStatus.CANCELLED, error="case transferred")
        .execution_options(synchronize_session=False)
    )
    referral.district_id = district_id
    referral.location_id = district_id
    referral.status = ReferralStatus.NEW
    referral.escalation_step = 0
    referral.escalate_at = None
    referral.acknowledged_at = None
    referral.acknowledged_by_id = None
    referral.flagged = False
    actor = _named(officer, actor)
    why = f"by {via}: placed in {before}, moved to district {rt.places.label(district_id)}; routing starts there"
    timeline.record(session, referral.id, EventKind.TRANSFERRED, actor, why, now)
    return _route_fresh(rt, session, referral, now, routing.assigned(session, referral))


def add_note(rt: Runtime, session: Session, referral: Referral, actor: str, note: str, now: datetime) -> None:
    """A note on the case's timeline; its words are kept encrypted (they may name people)."""
    if not note.strip():
        raise ValueError("a note needs some words")
    timeline.record(
        session, referral.id, EventKind.NOTED, actor, "a note", now, private=rt.crypto.encrypt(note.strip())
    )


def reassign(rt: Runtime, session: Session, referral: Referral, to: Officer, now: datetime, *, actor: str) -> list[int]:
    """The case is sent to another officer: its alert goes to them, and an acknowledged case
    becomes theirs; the alert to dispatch."""
    if referral.status == ReferralStatus.CLOSED:
        raise LifecycleError(Refusal.ALREADY_CLOSED, referral)
    if to.id not in routing.assigned(session, referral):
        session.add(
            Assignment(referral_id=referral.id, officer_id=to.id, step=referral.escalation_step, reason="reassigned")
        )
    body = routing.alert_text(rt, session, referral, to.language)
    message = outbox.add(
        session, to=to.phone, body=body, kind=MessageKind.ALERT, referral_id=referral.id, officer_id=to.id
    )
    if referral.status == ReferralStatus.ACKNOWLEDGED:
        referral.acknowledged_by_id = to.id
    elif referral.status == ReferralStatus.NEW:
        referral.status = ReferralStatus.ROUTED
    timeline.record(session, referral.id, EventKind.REASSIGNED, actor, f"to {timeline.officer_actor(to)}", now)
    return [message.id]


# --- possible duplicates -------------------------------------------------------------------


def possible_duplicate(rt: Runtime, session: Session, referral: Referral, at: datetime) -> Referral | None:
    """The latest earlier case from a report about the same village, category, age band and sex,
    opened within DUPLICATE_WINDOW seconds before at (two IZU of one village often report one child)."""
    if referral.location_id is None:
        return None
    since = at - timedelta(seconds=rt.settings.duplicate_window)
    return session.scalar(
        select(Referral)
        .join(Report, Report.id == Referral.report_id)
        .where(
            Referral.id != referral.id,
            Referral.location_id == referral.location_id,
            Referral.category == referral.category,
            Referral.age_band == referral.age_band,
            Referral.sex == referral.sex,
            Report.kind == ReportKind.CONCERN,
            Report.created_at >= since,
            Report.created_at <= at,
        )
        .order_by(Referral.id.desc())
        .limit(1)
    )


def link_duplicate(
    session: Session,
    referral: Referral,
    earlier: Referral,
    by: Officer | str,
    now: datetime,
    confirmed: bool = False,
) -> None:
    """Mark referral as possibly (confirmed: surely) about the same child as earlier, on both timelines."""
    if isinstance(by, Officer):
        _authorize(session, by, referral)
    referral.duplicate_of_id = earlier.id
    referral.duplicate_confirmed = confirmed
    actor = _actor(by)
    kind = EventKind.CONFIRMED if confirmed else EventKind.LINKED
    said = "the same as" if confirmed else "possibly the same as"
    timeline.record(session, referral, kind, actor, f"{said} {earlier.reference}", now)
    timeline.record(session, earlier.id, kind, actor, f"{referral.reference} is {said} this case", now)


def unlink_duplicate(session: Session, referral: Referral, by: Officer | str, now: datetime) -> Referral:
    """An officer (or an admin) says referral is not about the same child as the case it was linked to;
    that case."""
    if isinstance(by, Officer):
        _authorize(session, by, referral)
    earlier = session.get(Referral, referral.duplicate_of_id) if referral.duplicate_of_id else None
    if earlier is None:
        raise LifecycleError(Refusal.NOT_LINKED, referral)
    referral.duplicate_of_id = None
    referral.duplicate_confirmed = False
    actor = _actor(by)
    timeline.record(session, referral.id, EventKind.UNLINKED, actor, f"not the same as {earlier.reference}", now)
    timeline.record(session, earlier.id, EventKind.UNLINKED, actor, f"{referral.reference} is not this case", now)
    return earlier


def confirm_duplicate(session: Session, referral: Referral, by: Officer | str, now: datetime) -> Referral:
    """An officer (or an admin) confirms the link referral carries; the case it is the same as."""
    earlier = session.get(Referral, referral.duplicate_of_id) if referral.duplicate_of_id else None
    if earlier is None:
        if isinstance(by, Officer):
            _authorize(session, by, referral)
        raise LifecycleError(Refusal.NOT_LINKED, referral)
    link_duplicate(session, referral, earlier, by, now, confirmed=True)
    return earlier


def _actor(by: Officer | str) -> str:
    return timeline.officer_actor(by) if isinstance(by, Officer) else by


# --- nothing left open quietly -------------------------------------------------------------


def remind(rt: Runtime, session: Session, referral: Referral, now: datetime) -> list[int]:
    """A case still open REMINDER_DAYS after its officer took it: the officer is reminded; after twice
    that, the district's supervisors too (once each); the reminders to dispatch."""
    if referral.status != ReferralStatus.ACKNOWLEDGED or referral.acknowledged_at is None:
        return []
    days = rt.settings.reminder_days
    held = now - referral.acknowledged_at
    step = 2 if held >= timedelta(days=2 * days) else 1 if held >= timedelta(days=days) else 0
    if step <= referral.reminder_step:
        return []
    officer = session.get(Officer, referral.acknowledged_by_id) if referral.acknowledged_by_id else None
    if step == 1 or referral.reminder_step == 0:
        recipients = [officer] if officer is not None and officer.active else []
        body_key, who = "reminder", "its officer"
    else:
        recipients = [o for o in routing.supervisors(session, referral.district_id) if o is not officer]
        body_key, who = "reminder_supervisor", "the district supervisor"
    referral.reminder_step += 1
    district = rt.places.label(referral.district_id) if referral.district_id else "-"
    message_ids = [
        outbox.add(
            session,
            to=o.phone,
            body=texts.say(body_key, o.language, ref=referral.reference, days=held.days, district=district),
            kind=MessageKind.REMINDER,
            referral_id=referral.id,
            officer_id=o.id,
        ).id
        for o in recipients
    ]
    detail = f"open {held.days} days after it was taken: {who} reminded" + ("" if recipients else " (nobody to tell)")
    timeline.record(session, referral.id, EventKind.REMINDED, timeline.SYSTEM, detail, now)
    return message_ids
