"""Cases in the admin web: the list (filtered, paged, exported), a case with its timeline,
alerts and assignments, and what an officer does to it, through the referral lifecycle.

Officers see their district's cases and those sent to the registry officer they are linked
to (gateway.referrals.cases); any other case is a 404, exactly as a reference that does not
exist. Viewers read and change nothing. A person linked to a registry officer acts as that
officer, exactly as by SMS (the case is acknowledged by them, the timeline names them); anyone
else acts as themselves. Each read of a case is audited, with the private fields it showed;
each change is on the timeline and audited with the person's email.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gateway.accounts import audit
from gateway.accounts.users import Reader
from gateway.admin.auth import READERS, AdminUser, require_role, user
from gateway.admin.base import bp, runtime
from gateway.clock import LOCAL_TIME, utcnow
from gateway.models import Location, Officer, Referral
from gateway.referrals import cases, exports, lifecycle, stats, timeline
from gateway.referrals.lifecycle import LifecycleError, Refusal
from gateway.sms import outbox
from gateway.vocabulary import OUTCOME_LABELS, Category, CloseOutcome, ReferralStatus, UserRole, outcome_label

# Roles that act on cases (an officer: in their district).
ACTORS = (UserRole.ADMIN, UserRole.OFFICER)
# Cases in one page of the list.
PAGE_SIZE = 25
# How long a note may be.
NOTE_MAX = 1000
# What a refusal means to the person who clicked.
REFUSALS = {
    Refusal.ALREADY_CLOSED: "This case is already closed.",
    Refusal.ALREADY_ACKNOWLEDGED: "Another officer has already acknowledged this case.",
    Refusal.NOT_ALLOWED: "You may not act on this case.",
    Refusal.NOT_CLOSED: "This case is open: only a closed case can be reopened.",
    Refusal.SAME_DISTRICT: "The case is already in that district.",
    Refusal.NOT_LINKED: "This case is not linked to another one.",
}


@bp.app_template_filter("local")
def local_time(moment: datetime | str | None) -> str:
    """A time (or an ISO string of one) in Rwanda's time, e.g. 01 Dec 2026 14:30."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(LOCAL_TIME).strftime("%d %b %Y %H:%M")


bp.add_app_template_filter(outcome_label, "outcome")


def reader_of(person: AdminUser) -> Reader:
    """The logged-in person as the case rules know readers."""
    return Reader(person.user_id, person.email, person.role, person.district_id, person.officer_id)


@dataclass(frozen=True)
class Actor:
    """Who changes a case: the registry officer a person is (None: the person as themselves),
    and how the timeline names them."""

    officer: Officer | None
    name: str


def actor_of(session: Session, person: AdminUser, referral: Referral) -> Actor:
    """A person acts as their linked officer when that officer may act on the case (as by SMS),
    else as themselves (an admin on another district's case, say)."""
    officer = session.get(Officer, person.officer_id) if person.officer_id else None
    if officer is not None and officer.active and lifecycle.may_act(session, officer, referral):
        return Actor(officer, timeline.officer_actor(officer))
    return Actor(None, f"{timeline.USER_PREFIX}{person.email}")


# --- the list --------------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter that cannot be applied; the message says why."""


def _day(raw: str, name: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise FilterError(f"{name} must be a date, YYYY-MM-DD") from None


def case_filter(session: Session, args: MultiDict[str, str], reader: Reader) -> cases.CaseFilter:
    """The filter of a list's query string (an officer's district is theirs whatever is asked)."""
    status = args.get("status", "")
    if status and status not in tuple(ReferralStatus) and status != "open":
        raise FilterError("unknown status")
    statuses = (
        (ReferralStatus.NEW, ReferralStatus.ROUTED, ReferralStatus.ACKNOWLEDGED)
        if status == "open"
        else ((status,) if status else ())
    )
    category = args.get("category", "")
    if category and category not in tuple(Category):
        raise FilterError("unknown category")
    urgency = args.get("urgency", "")
    district_id = None
    if args.get("district") and not reader.scoped:
        try:
            district_id = int(args["district"])
        except ValueError:
            raise FilterError("unknown district") from None
    first, last = _day(args.get("from", ""), "From"), _day(args.get("to", ""), "To")
    return cases.CaseFilter(
        statuses=statuses,
        district_id=district_id,
        since=datetime.combine(first, datetime.min.time(), LOCAL_TIME) if first else None,
        until=datetime.combine(last + timedelta(days=1), datetime.min.time(), LOCAL_TIME) if last else None,
        urgent={"urgent": True, "normal": False}.get(urgency),
        categories=(category,) if category else (),
    )


def districts(session: Session) -> list[tuple[int, str]]:
    return [(d.id, d.name) for d in session.scalars(select(Location).where(Location.level == "district"))]


def _targets() -> tuple[int, int]:
    settings = runtime().settings
    return settings.escalation_urgent_seconds, settings.escalation_normal_seconds


def overdue(referral: Referral, now: datetime) -> bool:
    """Waiting for an officer longer than its escalation delay."""
    urgent, normal = _targets()
    delay = timedelta(seconds=urgent if referral.urgent else normal)
    return referral.status in lifecycle.WAITING and referral.created_at + delay < now


@bp.get("/cases", endpoint="cases")
@require_role(*READERS)
def cases_list() -> str | tuple[str, int]:
    rt = runtime()
    me = user()
    reader = reader_of(me)
    order = request.args.get("order", cases.ORDER_NEWEST)
    order = order if order in cases.ORDERS else cases.ORDER_NEWEST
    page = max(1, request.args.get("page", 1, type=int) or 1)
    error = ""
    with rt.db.transaction() as session:
        try:
            narrow = case_filter(session, request.args, reader)
        except FilterError as exc:
            narrow, error = cases.CaseFilter(), str(exc)
        rows, more = cases.listing(session, reader, narrow, order, _targets(), (page - 1) * PAGE_SIZE, PAGE_SIZE)
        items = [(r, cases.place(rt.places, r)) for r in rows]
        asked = " ".join(f"{k}={v}" for k, v in sorted(request.args.items()))
        audit.record(session, me.email, audit.LIST_REFERRALS, detail=f"{len(items)} shown in the admin web; {asked}")
        choices = districts(session)
    query = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "admin/cases/list.html",
        section="admin.cases",
        items=items,
        now=utcnow(),
        overdue=overdue,
        page=page,
        more=more,
        query=query,
        error=error,
        districts=sorted(choices, key=lambda d: d[1]),
        statuses=list(ReferralStatus),
        categories=list(Category),
        order=order,
        may_export_private=me.role in ACTORS,
    )


@bp.get("/cases/export.<fmt>")
@require_role(*READERS)
def cases_export(fmt: str) -> Response:
    """The filtered list as CSV or XLSX; free text and phone only where allowed and asked for (audited)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    rt = runtime()
    me = user()
    reader = reader_of(me)
    with_private = request.args.get("private") == "1" and me.role in ACTORS
    with rt.db.transaction() as session:
        try:
            narrow = case_filter(session, request.args, reader)
        except FilterError as exc:
            abort(400, description=str(exc))
        table, disclosed = exports.case_table(session, rt.places, rt.crypto, reader, narrow, with_private)
        asked = " ".join(f"{k}={v}" for k, v in sorted(request.args.items()))
        audit.record(session, me.email, audit.EXPORT_CASES, detail=f"{len(table.rows)} cases as {fmt}; {asked}")
        for referral_id in disclosed:
            audit.record(session, me.email, audit.READ_REFERRAL_PRIVATE, referral_id, "export")
    return download([table], fmt, f"ijwi-cases-{date.today().isoformat()}")


def download(tables: list[stats.Table], fmt: str, name: str) -> Response:
    """tables as a CSV or XLSX attachment."""
    if fmt == "xlsx":
        body, kind = exports.to_xlsx(tables), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = exports.to_csv(tables), "text/csv; charset=utf-8"
    response = Response(body, mimetype=kind.split(";")[0])
    response.headers["Content-Type"] = kind
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# --- one case --------------------------------------------------------------------------------


def _case_or_404(session: Session, reader: Reader, reference: str, lock: bool = False) -> Referral:
    referral = cases.find(session, reader, reference)
    if referral is None:
        abort(404)
    if lock:
        session.refresh(referral, with_for_update=True)
    return referral


@bp.get("/cases/<reference>")
@require_role(*READERS)
def case_detail(reference: str) -> str:
    rt = runtime()
    me = user()
    reader = reader_of(me)
    with rt.db.transaction() as session:
        referral = _case_or_404(session, reader, reference)
        body, disclosed = cases.detail(session, rt.places, rt.crypto, reader, referral.id)
        if disclosed:
            shown = "shown in the admin web: " + ", ".join(disclosed)
            audit.record(session, me.email, audit.READ_REFERRAL_PRIVATE, referral.id, shown)
        else:
            audit.record(session, me.email, audit.READ_REFERRAL, referral.id, "admin web")
        messages = cases.messages(session, reader, referral)
        may_act = me.role in ACTORS
        acting = actor_of(session, me, referral).officer if may_act else None
        acting_as = acting.name if acting is not None else None
        officers = _officers_for(session, referral) if may_act else []
        choices = sorted(districts(session), key=lambda d: d[1]) if may_act else []
        is_overdue = overdue(referral, utcnow())
        elsewhere = reader.scoped and referral.district_id != reader.district_id
    return render_template(
        "admin/cases/detail.html",
        section="admin.cases",
        case=body,
        messages=messages,
        may_act=may_act,
        officers=officers,
        districts=choices,
        district_id=referral.district_id,
        outcomes=OUTCOME_LABELS,
        acting_as=acting_as,
        elsewhere=elsewhere,
        overdue=is_overdue,
        waiting=body["status"] in lifecycle.WAITING,
    )


def _officers_for(session: Session, referral: Referral) -> list[tuple[int, str]]:
    """Active officers a case may be sent to: its district's, then the national desk."""
    rows = session.scalars(
        select(Officer)
        .where(Officer.active.is_(True))
        .where((Officer.district_id == referral.district_id) | (Officer.role == "national_desk"))
        .order_by(Officer.role == "national_desk", Officer.name)
    )
    return [(o.id, f"{o.name} ({o.role.replace('_', ' ')}{', off duty' if not o.on_duty else ''})") for o in rows]


Action = Callable[[Session, Referral, Actor, Reader], tuple[list[int], str]]


def _acknowledge(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    notices = lifecycle.acknowledge(session, referral, by.officer, utcnow(), via="admin web", actor=by.name)
    return notices, "acknowledged"


def _note(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    note = request.form.get("note", "").strip()
    if not note:
        raise ValueError("Write the note before adding it.")
    if len(note) > NOTE_MAX:
        raise ValueError(f"A note is at most {NOTE_MAX} characters.")
    lifecycle.add_note(runtime(), session, referral, by.name, note, utcnow())
    return [], "note added"


def _close(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    outcome = request.form.get("outcome", "")
    if outcome not in tuple(CloseOutcome):
        raise ValueError("Choose how the case ended.")
    note = request.form.get("note", "").strip()[:NOTE_MAX]
    lifecycle.close(
        runtime(),
        session,
        referral,
        by.officer,
        utcnow(),
        note=note,
        outcome=CloseOutcome(outcome),
        via="admin web",
        actor=by.name,
    )
    return [], f"closed: {outcome_label(outcome)}"


def _reopen(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    lifecycle.reopen(session, referral, by.officer, utcnow(), via="admin web", actor=by.name)
    return [], "reopened"


def _reassign(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    officer_id = request.form.get("officer", type=int)
    allowed = {i for i, _ in _officers_for(session, referral)}
    officer = session.get(Officer, officer_id) if officer_id in allowed else None
    if officer is None:
        raise ValueError("Choose an officer of the case's district or the national desk.")
    alerts = lifecycle.reassign(runtime(), session, referral, officer, utcnow(), actor=by.name)
    return alerts, f"reassigned to officer:{officer.id}"


def _transfer(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    district_id = request.form.get("district", type=int)
    district = session.get(Location, district_id) if district_id else None
    if district is None or district.level != "district":
        raise ValueError("Choose the district the case belongs to.")
    alerts = lifecycle.transfer(
        runtime(), session, referral, by.officer, district.id, utcnow(), via="admin web", actor=by.name
    )
    return alerts, f"transferred to {district.name}"


def _link(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    earlier = cases.find(session, reader, request.form.get("earlier", "").strip())
    if earlier is None or earlier.id == referral.id:
        raise ValueError("Give the reference of another case you may see.")
    lifecycle.link_duplicate(session, referral, earlier, by.officer or by.name, utcnow())
    return [], f"possibly the same as {earlier.reference}"


def _confirm(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    earlier = lifecycle.confirm_duplicate(session, referral, by.officer or by.name, utcnow())
    return [], f"the same as {earlier.reference}"


def _unlink(session: Session, referral: Referral, by: Actor, reader: Reader) -> tuple[list[int], str]:
    earlier = lifecycle.unlink_duplicate(session, referral, by.officer or by.name, utcnow())
    return [], f"not the same as {earlier.reference}"


ACTIONS: dict[str, Action] = {
    "link": _link,
    "confirm": _confirm,
    "unlink": _unlink,
    "acknowledge": _acknowledge,
    "note": _note,
    "close": _close,
    "reopen": _reopen,
    "reassign": _reassign,
    "transfer": _transfer,
}


def _still_visible(reader: Reader, reference: str) -> bool:
    with runtime().db.reading() as session:
        return cases.find(session, reader, reference) is not None


@bp.post("/cases/<reference>/<action>")
@require_role(*ACTORS)
def case_action(reference: str, action: str) -> Any:
    """One change to a case, through the lifecycle; its messages sent once committed."""
    change = ACTIONS.get(action)
    if change is None:
        abort(404)
    rt = runtime()
    me = user()
    reader = reader_of(me)
    to_send: list[int] = []
    try:
        with rt.db.transaction() as session:
            referral = _case_or_404(session, reader, reference, lock=True)
            to_send, what = change(session, referral, actor_of(session, me, referral), reader)
            audit.record(session, me.email, audit.CASE_CHANGED, referral.id, what)
    except LifecycleError as exc:
        flash(REFUSALS.get(exc.refusal, "This change is not possible."), "error")
    except ValueError as exc:
        flash(str(exc), "error")
    else:
        outbox.dispatch(rt, to_send)
        flash(f"Case {reference}: {what}.")
        if action == "transfer" and reader.scoped and not _still_visible(reader, reference):
            # Now another district's case, never sent to this officer: they no longer see it.
            return redirect(url_for("admin.cases"))
    return redirect(url_for("admin.case_detail", reference=reference))
