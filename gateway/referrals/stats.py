"""The programme's figures for a period and a district: the dashboards, their exports and
the API's /stats all read them from here.

The referrals, response times and SMS of a period are added up from the daily roll-up
(gateway/referrals/rollup.py: kept days, and today and any day changed since counted from
the records); `dashboard(..., live=True)` counts them from the records instead (GROUP BY,
COUNT, percentiles on PostgreSQL), and both give the same figures. Open cases and home
visits are always counted from the records. Every figure comes back as a `Table`: a title,
column names and rows, which a chart draws, a page shows beside it, and an export writes as
it is. Days, weeks and months are Rwanda's.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, case, cast, distinct, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from gateway import keys
from gateway.clock import LOCAL_TIME, utcnow
from gateway.config import Settings
from gateway.models import OPEN_CASES, Location, Message, Referral, Visit
from gateway.referrals import cases, rollup
from gateway.registry.places import PlaceIndex
from gateway.runtime import Runtime
from gateway.vocabulary import WAITING, Category, MessageStatus

# Weeks a dashboard shows when no period is asked for.
DEFAULT_WEEKS = 12
# Longest period one request may ask for (a year and a bit), so a query stays bounded.
MAX_DAYS = 400
# A village "not visited" had no home visit in this many days.
UNVISITED_DAYS = 30
# How SMS states are counted: what each line of the SMS table holds.
SMS_LINES = (
    ("written", "every SMS written in the period"),
    ("delivered", "the handset confirmed it"),
    ("sent", "the provider took it, no delivery report yet"),
    ("failed", "failed for good"),
    ("waiting", "queued, sending or retrying now"),
    ("cancelled", "not sent: the case was answered first"),
    ("retried", "needed more than one attempt"),
)
# Memory PostgreSQL may sort a dashboard's response times in (a year of cases fits).
SORT_MEMORY = "32MB"
# SMS still on their way out.
IN_FLIGHT = rollup.IN_FLIGHT
_WEEK_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Period:
    """Local days first..last (both included), optionally one district."""

    first: date
    last: date
    district_id: int | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), LOCAL_TIME)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), LOCAL_TIME)

    @classmethod
    def last_weeks(cls, today: date, weeks: int = DEFAULT_WEEKS, district_id: int | None = None) -> Period:
        return cls(today - timedelta(days=weeks * 7 - 1), today, district_id)


class PeriodError(ValueError):
    """A period that cannot be counted (ends before it starts, too long)."""


def check(period: Period) -> None:
    """Raise PeriodError with a sentence for a period that cannot be asked for."""
    if period.last < period.first:
        raise PeriodError("the period ends before it starts")
    if (period.last - period.first).days + 1 > MAX_DAYS:
        raise PeriodError(f"a period is at most {MAX_DAYS} days")


def parse_period(first: str, last: str, today: date, district_id: int | None = None) -> Period:
    """The period between two dates typed as YYYY-MM-DD (either may be empty: the last
    DEFAULT_WEEKS weeks up to today); PeriodError with a sentence for anything else."""
    default = Period.last_weeks(today, district_id=district_id)
    try:
        start = date.fromisoformat(first.strip()) if first.strip() else None
        end = date.fromisoformat(last.strip()) if last.strip() else None
    except ValueError:
        raise PeriodError("dates are written YYYY-MM-DD, e.g. 2026-03-01") from None
    if end is None:
        end = today if start is None else min(today, start + timedelta(days=DEFAULT_WEEKS * 7 - 1))
    if start is None:
        start = end - (default.last - default.first)
    period = Period(start, end, district_id)
    check(period)
    return period


@dataclass(frozen=True)
class Targets:
    """Seconds within which a referral should be acknowledged (ESCALATION_*_SECONDS)."""

    urgent_seconds: int
    normal_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> Targets:
        return cls(settings.escalation_urgent_seconds, settings.escalation_normal_seconds)


@dataclass
class Table:
    """One figure: a title, its columns and its rows (the first column names the row)."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}


@dataclass
class Dashboard:
    period: Period
    district: str | None
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "district": self.district,
            "tables": {t.key: t.as_dict() for t in self.tables},
        }

    def dumps(self) -> str:
        return json.dumps({"district": self.district, "tables": [vars(t) for t in self.tables]})

    @classmethod
    def loads(cls, period: Period, text: str) -> Dashboard:
        data = json.loads(text)
        return cls(period, data["district"], [Table(**t) for t in data["tables"]])


# --- SQL pieces that differ between SQLite and PostgreSQL --------------------------------


def _epoch(session: Session, column: Any) -> ColumnElement[Any]:
    return cases.epoch_of(session, column)


def _month(session: Session, column: Any) -> ColumnElement[Any]:
    """The local month (YYYY-MM) of a time column."""
    if _dialect(session) == "postgresql":
        return func.to_char(func.timezone("Africa/Kigali", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+2 hours")


def _week_index(session: Session, column: Any, start: datetime) -> ColumnElement[Any]:
    """Which week of the period (0, 1, ...) a time column falls in."""
    offset = _epoch(session, column) - int(start.timestamp())
    if _dialect(session) == "postgresql":
        return cast(func.floor(offset / _WEEK_SECONDS), Integer)
    return cast(offset / _WEEK_SECONDS, Integer)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# --- the figures ---------------------------------------------------------------------------


def _in_period(period: Period, column: Any = Referral.created_at) -> list[ColumnElement[bool]]:
    where = [column >= period.start, column < period.end]
    if period.district_id is not None:
        where.append(Referral.district_id == period.district_id)
    return where


def _weeks(period: Period) -> list[date]:
    count = ((period.last - period.first).days + 7) // 7
    return [period.first + timedelta(days=7 * i) for i in range(count)]


def _district_name(places: PlaceIndex, district_id: int | None) -> str:
    if district_id is None:
        return "(no place: national desk triage)"
    place = places.get(district_id)
    return place.name if place else f"#{district_id}"


def period_rows(session: Session, period: Period) -> Sequence[Any]:
    """The period's referrals counted from the records in one pass: (week, category,
    district, urgent, count, escalated, reached the national desk, flagged)."""
    week = _week_index(session, Referral.created_at, period.start)
    return session.execute(
        select(
            week,
            Referral.category,
            Referral.district_id,
            Referral.urgent,
            func.count(),
            func.sum(case((Referral.escalation_step > 0, 1), else_=0)),
            func.sum(case((Referral.escalation_step >= 3, 1), else_=0)),
            func.sum(case((Referral.flagged.is_(True), 1), else_=0)),
        )
        .where(*_in_period(period))
        .group_by(week, Referral.category, Referral.district_id, Referral.urgent)
    ).all()


@dataclass
class Counted:
    """What the referral, response-time and SMS tables are made of, however it was counted."""

    # week -> category -> referrals
    by_category: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # district -> week -> referrals
    by_district: dict[int | None, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    # week -> [referrals, urgent]
    urgent: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # district -> [referrals, escalated, reached the national desk, flagged]
    escalations: dict[int | None, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    # (measure, urgent) -> (cases, within the target, median, 90th percentile), in seconds
    responses: dict[tuple[str, bool], tuple[Any, ...]] = field(default_factory=dict)
    # SMS in the order of SMS_LINES
    sms: list[int] = field(default_factory=lambda: [0] * len(SMS_LINES))

    def add(self, week: int, category: str, district_id: int | None, urgent: int, referrals: int) -> None:
        self.by_category[week][category] += referrals
        self.by_district[district_id][week] += referrals
        self.urgent[week][0] += referrals
        self.urgent[week][1] += urgent


def counted_live(session: Session, period: Period, targets: Targets) -> Counted:
    """The period's referrals, response times and SMS counted from the records."""
    counted = Counted()
    for week, category, district_id, is_urgent, count, escalated, desk, flagged in period_rows(session, period):
        counted.add(int(week), category, district_id, count if is_urgent else 0, count)
        for i, value in enumerate((count, escalated, desk, flagged)):
            counted.escalations[district_id][i] += value or 0
    counted.responses = _responses_live(session, period, targets)
    counted.sms = _sms_live(session, period)
    return counted


def counted_rolled(session: Session, period: Period, targets: Targets) -> Counted:
    """The same figures as counted_live, added up from the daily roll-up."""
    counted = Counted()
    rolled = rollup.figures(session, period.first, period.last, period.district_id, utcnow())
    for day in rolled.days:
        week = (day.day - period.first).days // 7
        for category, count in day.categories.items():
            counted.by_category[week][category] += count
        if day.referrals:
            counted.by_district[day.district_id][week] += day.referrals
            counted.urgent[week][0] += day.referrals
            counted.urgent[week][1] += day.urgent
            for i, value in enumerate((day.referrals, day.escalated, day.desk, day.flagged)):
                counted.escalations[day.district_id][i] += value
        counted.sms = [a + b for a, b in zip(counted.sms, day.sms, strict=True)]
    limits: dict[bool, float] = {True: targets.urgent_seconds, False: targets.normal_seconds}
    counted.responses = rolled.responses(session, limits)
    return counted


def referral_tables(places: PlaceIndex, period: Period, counted: Counted) -> tuple[Table, Table, Table, Table]:
    """Referrals per week by category, per district, the urgent share per week, and the
    escalations and flagged districts."""
    weeks = _weeks(period)
    by_category, urgent = counted.by_category, counted.urgent
    by_district: dict[str, Counter[int]] = defaultdict(Counter)
    for district_id, counts in counted.by_district.items():
        by_district[_district_name(places, district_id)] += counts
    labels = [w.isoformat() for w in weeks]
    categories = [str(c) for c in Category if any(by_category[i].get(c) for i in range(len(weeks)))] or ["other"]
    per_category = Table(
        "per_week_by_category",
        "Referrals per week, by category",
        ["Week of", *categories, "Total"],
        [
            [labels[i], *(by_category[i].get(c, 0) for c in categories), sum(by_category[i].values())]
            for i in range(len(weeks))
        ],
    )
    per_district = Table(
        "per_week_by_district",
        "Referrals per week, by district",
        ["District", *labels, "Total"],
        [
            [name, *(counts.get(i, 0) for i in range(len(weeks))), sum(counts.values())]
            for name, counts in sorted(by_district.items())
        ],
    )
    share = Table(
        "urgent_share",
        "Urgent referrals per week",
        ["Week of", "Referrals", "Urgent", "Urgent %"],
        [[labels[i], urgent[i][0], urgent[i][1], _percent(urgent[i][1], urgent[i][0])] for i in range(len(weeks))],
    )
    escalated = Table(
        "escalations",
        "Escalations and flagged districts",
        ["District", "Referrals", "Escalated", "Reached the national desk", "Flagged (nobody registered)"],
        note="Flagged: the district had nobody registered, so the national desk got the alert.",
    )
    for district_id, values in counted.escalations.items():
        escalated.rows.append([_district_name(places, district_id), *values])
    escalated.rows.sort(key=lambda r: (-r[4], -r[2], r[0]))
    return per_category, per_district, share, escalated


# What the response-times table measures: from the referral's creation to these.
RESPONSES = (("acknowledge", Referral.acknowledged_at), ("close", Referral.closed_at))


def response_times(session: Session, period: Period, targets: Targets) -> Table:
    """Time to acknowledge and to close, median and 90th percentile, urgent and not, against
    the targets (counted from the records)."""
    return _response_table(_responses_live(session, period, targets), targets)


def _responses_live(session: Session, period: Period, targets: Targets) -> dict[tuple[str, bool], tuple[Any, ...]]:
    """(measure, urgent) -> (cases, within the target, median, 90th percentile), in seconds."""
    found: dict[tuple[str, bool], tuple[Any, ...]] = {}
    if _dialect(session) == "postgresql":
        # One pass: percentile_cont leaves out the NULLs of cases not yet acknowledged or closed.
        target = case((Referral.urgent.is_(True), targets.urgent_seconds), else_=targets.normal_seconds)
        columns: list[Any] = []
        for _, end in RESPONSES:
            seconds = rollup.seconds_between(session, end, Referral.created_at)
            columns += [
                func.count(end),
                func.sum(case((seconds <= target, 1), else_=0)),
                func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.9).within_group(seconds),
            ]
        query = select(Referral.urgent, *columns).where(*_in_period(period)).group_by(Referral.urgent)
        for is_urgent, *values in session.execute(query):
            for i, (label, _) in enumerate(RESPONSES):
                found[(label, bool(is_urgent))] = tuple(values[4 * i : 4 * i + 4])
    else:
        for label, end in RESPONSES:
            seconds = rollup.seconds_between(session, end, Referral.created_at)
            for is_urgent, limit in ((True, targets.urgent_seconds), (False, targets.normal_seconds)):
                where = [*_in_period(period), end.is_not(None), Referral.urgent.is_(is_urgent)]
                found[(label, is_urgent)] = rollup.spread(
                    [float(v) for v in session.scalars(select(seconds).where(*where))], limit
                )
    return found


def _response_table(found: dict[tuple[str, bool], tuple[Any, ...]], targets: Targets) -> Table:
    table = Table(
        "response_times",
        "Response times (minutes)",
        ["Measure", "Cases", "Median", "90th percentile", "Target", "Within target %"],
        note="Target: the escalation delay (ESCALATION_URGENT_SECONDS / ESCALATION_NORMAL_SECONDS).",
    )
    for label, _ in RESPONSES:
        for is_urgent, limit in ((True, targets.urgent_seconds), (False, targets.normal_seconds)):
            count, within, p50, p90 = found.get((label, is_urgent), (0, 0, None, None))
            name = f"to {label} ({'urgent' if is_urgent else 'not urgent'})"
            table.rows.append(
                [name, count, _minutes(p50), _minutes(p90), _minutes(limit), _percent(within or 0, count)]
            )
    return table


def open_cases(session: Session, places: PlaceIndex, district_id: int | None, now: datetime, targets: Targets) -> Table:
    """Open cases per district now (whatever the period): waiting, overdue, acknowledged."""
    overdue = or_(
        and_(Referral.urgent.is_(True), Referral.created_at < now - timedelta(seconds=targets.urgent_seconds)),
        and_(Referral.urgent.is_(False), Referral.created_at < now - timedelta(seconds=targets.normal_seconds)),
    )
    waiting = Referral.status.in_(WAITING)
    query = (
        select(
            Referral.district_id,
            func.count(),
            func.sum(case((waiting, 1), else_=0)),
            func.sum(case((and_(waiting, overdue), 1), else_=0)),
            func.sum(case((Referral.urgent.is_(True), 1), else_=0)),
        )
        .where(text(OPEN_CASES))
        .group_by(Referral.district_id)
    )
    if district_id is not None:
        query = query.where(Referral.district_id == district_id)
    table = Table(
        "open_cases",
        "Open cases now",
        ["District", "Open", "Waiting for an officer", "Overdue", "Urgent"],
        note="Overdue: waiting for an acknowledgement longer than the escalation delay.",
    )
    for district, total, wait, late, urgent in session.execute(query):
        table.rows.append([_district_name(places, district), total, wait or 0, late or 0, urgent or 0])
    table.rows.sort(key=lambda r: (-r[3], r[0]))
    return table


def sms(session: Session, period: Period) -> Table:
    """SMS written in the period by state, and how many needed a retry (counted from the records)."""
    return _sms_table(period, _sms_live(session, period))


def _sms_live(session: Session, period: Period) -> list[int]:
    status = Message.status
    query = select(
        func.count(),
        func.sum(case((status == MessageStatus.DELIVERED, 1), else_=0)),
        func.sum(case((status == MessageStatus.SENT, 1), else_=0)),
        func.sum(case((status == MessageStatus.FAILED, 1), else_=0)),
        func.sum(case((status.in_(IN_FLIGHT), 1), else_=0)),
        func.sum(case((status == MessageStatus.CANCELLED, 1), else_=0)),
        func.sum(case((Message.attempts > 1, 1), else_=0)),
    ).where(Message.created_at >= period.start, Message.created_at < period.end)
    if period.district_id is not None:
        query = query.join(Referral, Referral.id == Message.referral_id).where(
            Referral.district_id == period.district_id
        )
    return [value or 0 for value in session.execute(query).one()]


def _sms_table(period: Period, counts: list[int]) -> Table:
    total = counts[0]
    table = Table(
        "sms",
        "SMS sent, delivered, failed and retried",
        ["State", "SMS", "%", "Meaning"],
        note="" if period.district_id is None else "In one district: the SMS about its referrals.",
    )
    for (name, meaning), value in zip(SMS_LINES, counts, strict=True):
        table.rows.append([name, value, _percent(value, total), meaning])
    return table


def visits(session: Session, places: PlaceIndex, period: Period, now: datetime) -> tuple[Table, Table]:
    """Home visits per district and month with the families visited; villages not visited lately."""
    village, cell, sector = (aliased(Location) for _ in range(3))
    month = _month(session, Visit.created_at)
    family = cast(Visit.village_id, String) + ":" + Visit.household_code
    query = (
        select(
            sector.parent_id,
            month,
            func.count(),
            func.count(distinct(family)),
            func.count(distinct(Visit.village_id)),
            func.count(distinct(Visit.volunteer_id)),
        )
        .join(village, Visit.village_id == village.id)
        .join(cell, village.parent_id == cell.id)
        .join(sector, cell.parent_id == sector.id)
        .where(Visit.created_at >= period.start, Visit.created_at < period.end)
        .group_by(sector.parent_id, month)
        .order_by(month)
    )
    if period.district_id is not None:
        query = query.where(sector.parent_id == period.district_id)
    per_month = Table(
        "visits",
        "Home visits per district and month",
        ["District", "Month", "Visits", "Families visited", "Villages visited", "Volunteers"],
        note="Families visited: distinct household codes (per village).",
    )
    for district, month_name, count, families, villages, volunteers in session.execute(query):
        per_month.rows.append([_district_name(places, district), month_name, count, families, villages, volunteers])
    per_month.rows.sort(key=lambda r: (r[1], r[0]))

    since = now - timedelta(days=UNVISITED_DAYS)
    visited: dict[int, int] = defaultdict(int)
    for village_id in session.scalars(select(Visit.village_id).where(Visit.created_at >= since).distinct()):
        district = places.ancestor(village_id, "district")
        if district is not None:
            visited[district.id] += 1
    unvisited = Table(
        "unvisited_villages",
        f"Villages with no home visit in the last {UNVISITED_DAYS} days",
        ["District", "Villages", "Not visited", "Not visited %"],
    )
    for district_id, count in places.villages_per_district(period.district_id).items():
        missing = count - visited[district_id]
        unvisited.rows.append([_district_name(places, district_id), count, missing, _percent(missing, count)])
    unvisited.rows.sort(key=lambda r: r[0])
    return per_month, unvisited


def dashboard(
    session: Session, places: PlaceIndex, period: Period, targets: Targets, now: datetime, live: bool = False
) -> Dashboard:
    """Every table of the dashboards for a period (and its district, if any); live: count
    the referrals and SMS from the records instead of adding up the daily roll-up."""
    check(period)
    if live:
        if _dialect(session) == "postgresql":
            # The percentiles sort a period's response times: in memory, not on disk.
            session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
        counted = counted_live(session, period, targets)
    else:
        counted = counted_rolled(session, period, targets)
    per_category, per_district, urgent, escalated = referral_tables(places, period, counted)
    per_month, unvisited = visits(session, places, period, now)
    tables = [
        per_category,
        per_district,
        urgent,
        _response_table(counted.responses, targets),
        open_cases(session, places, period.district_id, now, targets),
        escalated,
        _sms_table(period, counted.sms),
        per_month,
        unvisited,
    ]
    district = _district_name(places, period.district_id) if period.district_id is not None else None
    return Dashboard(period, district, tables)


def cache_key(period: Period, what: str = "figures") -> str:
    """Where the dashboard of period (and what is drawn of it) is kept."""
    return keys.dashboard(f"{period.first}:{period.last}:{period.district_id or 'all'}:{what}")


def counted_dashboard(rt: Runtime, period: Period, now: datetime) -> Dashboard:
    """dashboard() after bringing the daily roll-up up to date for the period (its own short
    transaction: the days it counts are kept for the next dashboard)."""
    check(period)
    with rt.db.transaction() as session:
        rollup.refresh(session, period.first, period.last, utcnow())
    with rt.db.reading() as session:
        return dashboard(session, rt.places, period, Targets.of(rt.settings), now)


def cached_dashboard(rt: Runtime, period: Period, now: datetime) -> Dashboard:
    """counted_dashboard(), kept keys.DASHBOARD_TTL seconds: the next officer to open it
    within a minute reads it from Redis instead of adding it up again."""
    check(period)
    key = cache_key(period)
    kept = rt.redis.get(key)
    if isinstance(kept, str):
        return Dashboard.loads(period, kept)
    figures = counted_dashboard(rt, period, now)
    rt.redis.set(key, figures.dumps(), ex=keys.DASHBOARD_TTL)
    return figures


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 1)
