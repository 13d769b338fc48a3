"""The JSON API under /api/v1: referrals, their timelines and SMS, read with a bearer token.

Every answer is JSON; every error is {"error": ..., "message": ...} with a 4xx status.
An officer's token reads only the referrals of the officer's district and those sent to the
registry officer the user is linked to (gateway.referrals.cases): any other reference
answers 404, exactly as one that does not exist, so references do not leak.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request

from gateway import runtime
from gateway.accounts import audit, users
from gateway.accounts.users import Reader
from gateway.clock import LOCAL_TIME, utcnow
from gateway.models import Referral
from gateway.referrals import cases, lifecycle, stats
from gateway.registry.imports import find_district
from gateway.vocabulary import ReferralStatus, UserRole
from menus.reference import is_valid

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Items in a page when the client does not say.
DEFAULT_LIMIT = 50
# Most items in one page.
MAX_LIMIT = 200
# Query parameters of the referral list.
LIST_PARAMETERS = {"status", "district", "since", "limit", "cursor"}
# Query parameters of the figures.
STATS_PARAMETERS = {"from", "to", "district"}
# Query parameters of the audit log.
AUDIT_PARAMETERS = {"referral", "actor", "limit", "cursor"}
_CURSOR = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)
# "+02:00" sent unescaped in a query string arrives as " 02:00".
_UNESCAPED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _reader() -> Reader:
    reader: Reader = g.reader
    return reader


def _unauthorized(message: str) -> Response:
    response = jsonify(error="Unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="ijwi"'
    return response


@bp.before_request
def authenticate() -> Response | None:
    """Find the reader behind the bearer token, or answer 401."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send an API token: Authorization: Bearer <token>")
    with runtime.current().db.reading() as session:
        reader = users.reader_for_token(session, token.strip())
    if reader is None:
        return _unauthorized("the API token is unknown or revoked")
    g.reader = reader
    return None


def _param(name: str) -> str:
    value = request.args.get(name, "").strip()
    if _CONTROL.search(value):
        abort(400, description=f"{name} holds control characters")
    return value


def _only(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        abort(400, description=f"unknown parameter {unknown[0]!r}; use {', '.join(sorted(allowed))}")


def _limit() -> int:
    raw = _param("limit")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _cursor() -> int | None:
    raw = _param("cursor")
    if not raw:
        return None
    if not _CURSOR.fullmatch(raw):
        abort(400, description="cursor must be a next_cursor value given by this API")
    return int(raw)


def _since() -> datetime | None:
    raw = _param("since")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(_UNESCAPED_OFFSET.sub(r"\1+\2", raw))
        # A time without an offset is read as UTC.
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):
        abort(
            400,
            description=f"since must be an ISO 8601 date or time, e.g. 2026-03-01 or 2026-03-01T08:00:00Z, not {raw!r}",
        )


def _statuses() -> tuple[str, ...]:
    raw = _param("status")
    statuses = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    for status in statuses:
        if status not in tuple(ReferralStatus):
            abort(400, description=f"status must be one of {', '.join(ReferralStatus)} (several: comma-separated)")
    return statuses


def _district_id() -> int | None:
    name = _param("district")
    if not name:
        return None
    with runtime.current().db.reading() as session:
        district = find_district(session, name)
    if district is None:
        abort(400, description=f"no district named {name!r}")
    return district.id


def _referral_or_404(session: Any, reference: str) -> Referral:
    if not is_valid(reference):
        abort(404, description=f"{reference!r} is not a reference number (7 digits, the last a check digit)")
    referral = cases.find(session, _reader(), reference)
    if referral is None:
        abort(404, description=f"no referral {reference.strip()}")
    return referral


@bp.get("/referrals")
def list_referrals():  # type: ignore[no-untyped-def]
    """Referrals the reader may see, newest first, a page at a time."""
    _only(LIST_PARAMETERS)
    narrow = cases.CaseFilter(statuses=_statuses(), district_id=_district_id(), since=_since())
    limit, before_id = _limit(), _cursor()
    rt = runtime.current()
    reader = _reader()
    with rt.db.transaction() as session:
        rows, next_id = cases.page(session, reader, narrow, limit, before_id)
        items = [cases.summary(rt.places, r) for r in rows]
        asked = " ".join(f"{k}={request.args[k]}" for k in sorted(request.args))
        audit.record(session, reader.email, audit.LIST_REFERRALS, detail=f"{len(items)} shown; {asked}".strip("; "))
    return jsonify(items=items, next_cursor=str(next_id) if next_id else None)


@bp.get("/referrals/<reference>")
def get_referral(reference: str):  # type: ignore[no-untyped-def]
    """One referral with its timeline and assignments; private fields for who may see them."""
    rt = runtime.current()
    reader = _reader()
    with rt.db.transaction() as session:
        referral = _referral_or_404(session, reference)
        body, disclosed = cases.detail(session, rt.places, rt.crypto, reader, referral.id)
        if disclosed:
            audit.record(
                session, reader.email, audit.READ_REFERRAL_PRIVATE, referral.id, "shown: " + ", ".join(disclosed)
            )
        else:
            audit.record(session, reader.email, audit.READ_REFERRAL, referral.id)
    return jsonify(body)


# Actions on a referral's "possibly the same as" link.
DUPLICATE_ACTIONS = ("confirm", "undo")


@bp.post("/referrals/<reference>/duplicate")
def decide_duplicate(reference: str):  # type: ignore[no-untyped-def]
    """Confirm ({"action": "confirm"}) or undo ({"action": "undo"}) the link of a referral to the
    earlier case it is possibly about; admins and the district's officers only."""
    reader = _reader()
    body = request.get_json(silent=True)
    action = body.get("action") if isinstance(body, dict) else None
    if action not in DUPLICATE_ACTIONS:
        abort(400, description='send JSON {"action": "confirm"} or {"action": "undo"}')
    rt = runtime.current()
    with rt.db.transaction() as session:
        referral = _referral_or_404(session, reference)
        if not cases.may_see_private(session, reader, referral):
            abort(403, description="only admins and the district's officers decide whether two cases are one")
        try:
            if action == "confirm":
                lifecycle.confirm_duplicate(session, referral, reader.email, utcnow())
            else:
                lifecycle.unlink_duplicate(session, referral, reader.email, utcnow())
        except lifecycle.LifecycleError:
            abort(409, description=f"referral {referral.reference} is not linked to another case")
        audit.record(session, reader.email, audit.DECIDE_DUPLICATE, referral.id, action)
        item = cases.summary(rt.places, referral)
    return jsonify(item)


@bp.get("/messages")
def list_messages():  # type: ignore[no-untyped-def]
    """The SMS sent about one referral (?referral=<reference>), oldest first."""
    _only({"referral"})
    # Not _param: a malformed reference is a 404 like any other.
    reference = request.args.get("referral", "").strip()
    if not reference:
        abort(400, description="say which referral: /api/v1/messages?referral=<reference>")
    rt = runtime.current()
    reader = _reader()
    with rt.db.transaction() as session:
        referral = _referral_or_404(session, reference)
        items = cases.messages(session, reader, referral)
        audit.record(session, reader.email, audit.READ_MESSAGES, referral.id, f"{len(items)} shown")
    return jsonify(referral=referral.reference, items=items)


@bp.get("/stats")
def get_stats():  # type: ignore[no-untyped-def]
    """The programme's figures for a period and a district (an officer's: their own district)."""
    _only(STATS_PARAMETERS)
    reader = _reader()
    district_id = _district_id()
    if reader.scoped:
        if district_id not in (None, reader.district_id):
            abort(403, description="an officer reads the figures of their own district only")
        district_id = reader.district_id
    rt = runtime.current()
    now = utcnow()
    try:
        period = stats.parse_period(_param("from"), _param("to"), now.astimezone(LOCAL_TIME).date(), district_id)
    except stats.PeriodError as exc:
        abort(400, description=str(exc))
    return jsonify(stats.cached_dashboard(rt, period, now).as_dict())


@bp.get("/audit")
def list_audit():  # type: ignore[no-untyped-def]
    """The audit log, newest first (admins only); ?referral= and ?actor= narrow it."""
    reader = _reader()
    if reader.role != UserRole.ADMIN:
        abort(403, description="only admins read the audit log")
    _only(AUDIT_PARAMETERS)
    limit, before_id = _limit(), _cursor()
    reference, actor = _param("referral"), _param("actor").lower()
    with runtime.current().db.reading() as session:
        rows = audit.entries(session, limit + 1, reference=reference, actor=actor, before_id=before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {"id": e.id, "at": cases.iso(e.at), "actor": e.actor, "action": e.action, "referral": ref, "detail": e.detail}
        for e, ref in rows
    ]
    return jsonify(items=items, next_cursor=str(rows[-1][0].id) if more else None)
