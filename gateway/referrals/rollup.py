"""The dashboards' daily roll-up: what each of Rwanda's days counted, per district, kept in
`daily_figures`, so that a dashboard over 12 weeks or a year adds up a few thousand rows
instead of counting a million referrals and two million SMS (gateway/referrals/stats.py).

A row holds, for one day and one district (None: referrals with no place, and SMS about no
referral), what a dashboard counts over a period: the day's referrals (all, urgent,
escalated, at the national desk, flagged, per category); the seconds each took to be
acknowledged and to be closed, every value, so that the median and 90th percentile of any
period come out exactly as counting the referrals gives them and "within target" follows
any target; and the SMS written that day by state, in the district of their referral. Home
visits and the open cases are not rolled up: distinct families of a month do not add up
over days, and open cases are a figure of now; stats counts them from the records.

When a day is kept, and when it is counted again (nothing in the write path takes part):

- A day is kept once it is over (before today in Rwanda's time) and asked for: `refresh`,
  called before a dashboard is counted and by `./ijwi stats rollup`. Today is counted from
  the records every time.
- Every write to a referral or an SMS stamps its `updated_at` with the time of the write
  (`Timestamped`; a raw SQL write must set it too). `daily_figures_check.checked_through`
  says up to when the kept days are known to be right; the rows written since are found
  from ix_referrals_updated_at and ix_messages_updated_at, and a kept day is stale when one
  of them was created that day: a referral acknowledged, closed, reopened, escalated,
  transferred or erased later (its day), an SMS sent, delivered, failed or retried later
  (its day), and every SMS of a referral that changed (a transfer moves them to another
  district). A new row is a write too, so a late insert into a kept day makes it stale.
- `refresh` counts the stale and the missing days again from the records, replaces them,
  and moves checked_through to the time it started less MARGIN: a write stamped before that
  but committed after the count is still found next time (MARGIN bounds how long a write
  transaction lasts and how far the clocks of the gateway's machines disagree). It runs in
  its own transaction, one at a time (a second one finding the first at work leaves it the
  job; the dashboard is still right, see `figures`).
- `figures` adds up the kept days of a period (per week and district, in SQL) and counts
  from the records the days that are not kept or stale since the last refresh, so its
  answer is right between refreshes too. The percentiles: PostgreSQL's percentile_cont over
  the kept seconds and the counted ones; on SQLite `percentile`, the same arithmetic.
- The gateway never deletes referrals or SMS. After rows are deleted by hand or a backup is
  restored into the database, run `./ijwi stats rollup --rebuild`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.clock import LOCAL_TIME
from gateway.models import DailyFigures, DailyFiguresCheck, DailyFiguresDay, Message, Referral
from gateway.vocabulary import MessageStatus

# How long after its updated_at a write may still be uncommitted (or its clock behind the
# refresh's): the next check looks back this far again.
MARGIN = timedelta(minutes=10)
# Days counted in one query when many are counted at once.
CHUNK_DAYS = 31
# SMS still on their way out.
IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.RETRYING)
# The SMS lines of a day, in the order of stats.SMS_LINES, and which line each state adds to.
SMS_COLUMNS = ("written", "delivered", "sent", "failed", "waiting", "cancelled", "retried")
_SMS_LINE: dict[str, int] = {
    MessageStatus.DELIVERED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.FAILED: 3,
    **{status: 4 for status in IN_FLIGHT},
    MessageStatus.CANCELLED: 5,
}
# Response times kept per day: (measure, urgent) -> column.
SECONDS_COLUMNS = {
    ("acknowledge", True): "acknowledge_urgent",
    ("acknowledge", False): "acknowledge_other",
    ("close", True): "close_urgent",
    ("close", False): "close_other",
}
_CHECK_ID = 1


@dataclass
class DayCounts:
    """What one day counted in one district."""

    day: date
    district_id: int | None
    referrals: int = 0
    urgent: int = 0
    escalated: int = 0
    desk: int = 0
    flagged: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    # SECONDS_COLUMNS' names -> seconds, one per referral acknowledged (or closed).
    seconds: dict[str, list[float]] = field(default_factory=dict)
    # Counts in the order of SMS_COLUMNS.
    sms: list[int] = field(default_factory=lambda: [0] * len(SMS_COLUMNS))

    def row(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "district_id": self.district_id,
            "referrals": self.referrals,
            "urgent": self.urgent,
            "escalated": self.escalated,
            "desk": self.desk,
            "flagged": self.flagged,
            "categories": dict(self.categories),
            **{c: self.seconds.get(c, []) for c in SECONDS_COLUMNS.values()},
            **{f"sms_{name}": value for name, value in zip(SMS_COLUMNS, self.sms, strict=True)},
        }


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Seconds from earlier to later (NULL while later is), as a float, on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TIME).date()


def day_start(day: date) -> datetime:
    """The first instant of a day in Rwanda."""
    return datetime.combine(day, time.min, LOCAL_TIME)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def count_days(session: Session, first: date, last: date, district_id: int | None = None) -> list[DayCounts]:
    """Days first..last counted from the records (one district's only, when given)."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    found: dict[tuple[date, int | None], DayCounts] = {}

    def at(moment: datetime, district: int | None) -> DayCounts:
        day = local_day(moment)
        counts = found.get((day, district))
        if counts is None:
            counts = found[(day, district)] = DayCounts(day, district)
        return counts

    referrals = select(
        Referral.created_at,
        Referral.district_id,
        Referral.category,
        Referral.urgent,
        Referral.escalation_step,
        Referral.flagged,
        seconds_between(session, Referral.acknowledged_at, Referral.created_at),
        seconds_between(session, Referral.closed_at, Referral.created_at),
    ).where(Referral.created_at >= start, Referral.created_at < end)
    if district_id is not None:
        referrals = referrals.where(Referral.district_id == district_id)
    for created, district, category, urgent, step, flagged, acknowledge, close in session.execute(referrals):
        counts = at(created, district)
        counts.referrals += 1
        counts.urgent += 1 if urgent else 0
        counts.escalated += 1 if step > 0 else 0
        counts.desk += 1 if step >= 3 else 0
        counts.flagged += 1 if flagged else 0
        counts.categories[category] += 1
        for measure, value in (("acknowledge", acknowledge), ("close", close)):
            if value is not None:
                counts.seconds.setdefault(SECONDS_COLUMNS[(measure, bool(urgent))], []).append(float(value))

    # The district of each SMS's referral, looked up one by one (a join would make PostgreSQL
    # read every referral to count a day's SMS).
    district_of = select(Referral.district_id).where(Referral.id == Message.referral_id).scalar_subquery()
    messages = select(Message.created_at, district_of, Message.status, Message.attempts).where(
        Message.created_at >= start, Message.created_at < end
    )
    if district_id is not None:
        messages = messages.where(district_of == district_id)
    for created, district, status, attempts in session.execute(messages):
        sms = at(created, district).sms
        sms[0] += 1
        line = _SMS_LINE.get(status)
        if line is not None:
            sms[line] += 1
        if attempts > 1:
            sms[6] += 1
    return list(found.values())


def changed_days(session: Session, since: datetime, until: datetime | None = None) -> set[date]:
    """Days whose figures rows written at or after since (and before until) may have changed."""

    def written(column: Any) -> list[ColumnElement[bool]]:
        return [column >= since] if until is None else [column >= since, column < until]

    referrals = select(Referral.created_at).where(*written(Referral.updated_at))
    messages = select(Message.created_at).where(*written(Message.updated_at))
    messages_of_referrals = (
        select(Message.created_at)
        .join(Referral, Referral.id == Message.referral_id)
        .where(*written(Referral.updated_at))
    )
    found: set[date] = set()
    for query in (referrals, messages, messages_of_referrals):
        found.update(local_day(moment) for moment in session.scalars(query))
    return found


def _runs(wanted: Iterable[date]) -> Iterator[tuple[date, date]]:
    """Sorted days as runs of consecutive days, each at most CHUNK_DAYS long."""
    first: date | None = None
    last: date | None = None
    for day in sorted(wanted):
        if (
            first is not None
            and last is not None
            and day == last + timedelta(days=1)
            and (day - first).days < CHUNK_DAYS
        ):
            last = day
            continue
        if first is not None and last is not None:
            yield first, last
        first = last = day
    if first is not None and last is not None:
        yield first, last


def _store(session: Session, first: date, last: date, now: datetime) -> None:
    """Count days first..last from the records and keep them, in place of what was kept."""
    counted = count_days(session, first, last)
    session.execute(delete(DailyFigures).where(DailyFigures.day >= first, DailyFigures.day <= last))
    session.execute(delete(DailyFiguresDay).where(DailyFiguresDay.day >= first, DailyFiguresDay.day <= last))
    if counted:
        session.execute(insert(DailyFigures), [c.row() for c in counted])
    session.execute(insert(DailyFiguresDay), [{"day": d, "counted_at": now} for d in days(first, last)])


def _lock_check(session: Session, now: datetime) -> DailyFiguresCheck | None:
    """The check row, made when missing and locked for this transaction; None while
    another refresh holds it."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert_into(DailyFiguresCheck).values(id=_CHECK_ID, checked_through=now - MARGIN).on_conflict_do_nothing()
    )
    query = select(DailyFiguresCheck).where(DailyFiguresCheck.id == _CHECK_ID).with_for_update(skip_locked=True)
    return session.scalars(query).one_or_none()


def refresh(session: Session, first: date, last: date, now: datetime, rebuild: bool = False) -> int | None:
    """Count again the kept days that are stale, and count and keep the days of first..last
    that are over and not kept yet (every kept day again with rebuild); how many days were
    counted, or None when another refresh was at work. now: the clock's time (utcnow), the
    time writes are stamped with. The caller commits."""
    check = _lock_check(session, now)
    if check is None:
        return None
    today = local_day(now)
    kept = set(session.scalars(select(DailyFiguresDay.day)))
    # Days written to within MARGIN stay stale after this count (see above): counting them
    # now would be lost work, so they wait for a refresh after MARGIN has passed.
    stale = kept if rebuild else changed_days(session, check.checked_through, now - MARGIN) & kept
    wanted = set(days(first, min(last, today - timedelta(days=1)))) - kept
    for run_first, run_last in _runs(stale | wanted):
        _store(session, run_first, run_last, now)
    check.checked_through = max(check.checked_through, now - MARGIN)
    return len(stale | wanted)


@dataclass
class Figures:
    """What the days of a period counted, in DayCounts whose `day` is any day of their week
    (the kept days come added up per week and district, and their categories per week in
    rows of no district and no referrals)."""

    days: list[DayCounts]
    kept: list[date]
    district_id: int | None
    # On SQLite: the seconds of every day of the period. PostgreSQL works out the
    # percentiles itself, from the kept days' seconds and the referrals of the `live` times.
    seconds: dict[str, list[float]]
    # Times (start, end) counted from the records.
    live: list[tuple[datetime, datetime]] = field(default_factory=list)

    def responses(self, session: Session, limits: dict[bool, float]) -> dict[tuple[str, bool], tuple[Any, ...]]:
        """(measure, urgent) -> (cases, within limits[urgent], median, 90th percentile) of the
        seconds to acknowledge or to close, as PostgreSQL's percentile_cont gives them."""
        if session.get_bind().dialect.name != "postgresql":
            return {key: spread(self.seconds[c], limits[key[1]]) for key, c in SECONDS_COLUMNS.items()}
        # One pass: the four kept columns side by side (unnest pads the shorter with NULLs,
        # which the aggregates leave out), then the referrals of the days counted live.
        table = DailyFigures.__table__.c
        names = list(SECONDS_COLUMNS.values())
        parts = (
            [select(*(func.unnest(table[c]).label(c) for c in names)).where(*self._kept(table))] if self.kept else []
        )
        for start, stop in self.live:
            where = [Referral.created_at >= start, Referral.created_at < stop]
            if self.district_id is not None:
                where.append(Referral.district_id == self.district_id)
            columns = []
            for (measure, urgent), name in SECONDS_COLUMNS.items():
                end = Referral.acknowledged_at if measure == "acknowledge" else Referral.closed_at
                seconds = seconds_between(session, end, Referral.created_at)
                columns.append(case((Referral.urgent.is_(urgent), seconds), else_=None).label(name))
            parts.append(select(*columns).where(*where))
        every = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
        aggregates: list[Any] = []
        for (_, urgent), name in SECONDS_COLUMNS.items():
            v = every.c[name]
            aggregates += [
                func.count(v),
                func.count().filter(v <= limits[urgent]),
                func.percentile_cont(0.5).within_group(v),
                func.percentile_cont(0.9).within_group(v),
            ]
        row = session.execute(select(*aggregates)).one()
        return {key: tuple(row[4 * i : 4 * i + 4]) for i, key in enumerate(SECONDS_COLUMNS)}

    def _kept(self, table: Any) -> list[ColumnElement[bool]]:
        # A range less the few days in it not kept (a long IN list is slow to test per row).
        first, last = self.kept[0], self.kept[-1]
        gaps = sorted(set(days(first, last)) - set(self.kept))
        where = [table.day >= first, table.day <= last]
        if gaps:
            where.append(table.day.not_in(gaps))
        if self.district_id is not None:
            where.append(table.district_id == self.district_id)
        return where


def _week(session: Session, day: Any, first: date) -> ColumnElement[int]:
    """Which week (0, 1, ...) after first a date column is in."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(day - literal(first, Date), Integer) // 7
    return cast(func.julianday(day) - func.julianday(first.isoformat()), Integer) // 7


def figures(session: Session, first: date, last: date, district_id: int | None, now: datetime) -> Figures:
    """What days first..last counted (in one district, when given): the kept days added up
    from daily_figures, every other day (today, days not kept, days stale since the last
    refresh) counted from the records. now: the clock's time (utcnow)."""
    check = session.get(DailyFiguresCheck, _CHECK_ID)
    kept: set[date] = set()
    if check is not None:
        in_period = select(DailyFiguresDay.day).where(DailyFiguresDay.day >= first, DailyFiguresDay.day <= last)
        kept = set(session.scalars(in_period)) - changed_days(session, check.checked_through)
    kept = {d for d in kept if d < local_day(now)}
    found = Figures([], sorted(kept), district_id, {c: [] for c in SECONDS_COLUMNS.values()})
    if kept:
        table = DailyFigures.__table__.c
        week = _week(session, table.day, first)
        sums = ["referrals", "urgent", "escalated", "desk", "flagged", *(f"sms_{name}" for name in SMS_COLUMNS)]
        query = select(week, table.district_id, *(func.sum(table[c]) for c in sums))
        for row in session.execute(query.where(*found._kept(table)).group_by(week, table.district_id)):
            referrals, urgent, escalated, desk, flagged, *sms = (int(v) for v in row[2:])
            day = first + timedelta(days=7 * int(row[0]))
            found.days.append(DayCounts(day, row[1], referrals, urgent, escalated, desk, flagged, sms=sms))
        postgres = session.get_bind().dialect.name == "postgresql"
        each = (func.jsonb_each_text if postgres else func.json_each)(table.categories).table_valued("key", "value")
        per_category = (
            select(week, each.c.key, func.sum(cast(each.c.value, Integer)))
            .select_from(DailyFigures.__table__)
            .join(each, true())
            .where(*found._kept(table))
            .group_by(week, each.c.key)
        )
        for index, category, count in session.execute(per_category):
            found.days.append(
                DayCounts(first + timedelta(days=7 * int(index)), None, categories=Counter({category: int(count)}))
            )
        if not postgres:
            seconds = select(*(table[c] for c in SECONDS_COLUMNS.values())).where(*found._kept(table))
            for row in session.execute(seconds):
                for column, kept_values in zip(SECONDS_COLUMNS.values(), row, strict=True):
                    found.seconds[column] += kept_values
    for run_first, run_last in _runs(set(days(first, last)) - kept):
        _count_live(session, found, day_start(run_first), day_start(run_last + timedelta(days=1)))
    return found


def _local_date(session: Session, column: Any) -> ColumnElement[Any]:
    """The day in Rwanda of a time column."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Africa/Kigali", column))
    return func.date(column, "+2 hours")


def _count_live(session: Session, found: Figures, start: datetime, end: datetime) -> None:
    """Add to found what the records say of start..end, added up by SQL (the days a dashboard
    cannot take from the roll-up); on PostgreSQL the seconds stay for `responses` to read."""
    by_day: dict[tuple[date, int | None], DayCounts] = {}

    def at(day: Any, district: int | None) -> DayCounts:
        day = day if isinstance(day, date) else date.fromisoformat(day)
        counts = by_day.get((day, district))
        if counts is None:
            counts = by_day[(day, district)] = DayCounts(day, district)
        return counts

    day = _local_date(session, Referral.created_at)
    where = [Referral.created_at >= start, Referral.created_at < end]
    if found.district_id is not None:
        where.append(Referral.district_id == found.district_id)
    referrals = (
        select(
            day,
            Referral.district_id,
            Referral.category,
            Referral.urgent,
            func.count(),
            func.sum(case((Referral.escalation_step > 0, 1), else_=0)),
            func.sum(case((Referral.escalation_step >= 3, 1), else_=0)),
            func.sum(case((Referral.flagged.is_(True), 1), else_=0)),
        )
        .where(*where)
        .group_by(day, Referral.district_id, Referral.category, Referral.urgent)
    )
    for when, district, category, urgent, count, escalated, desk, flagged in session.execute(referrals):
        counts = at(when, district)
        counts.referrals += count
        counts.urgent += count if urgent else 0
        counts.escalated += int(escalated or 0)
        counts.desk += int(desk or 0)
        counts.flagged += int(flagged or 0)
        counts.categories[category] += count

    sent_day = _local_date(session, Message.created_at)
    retried = case((Message.attempts > 1, 1), else_=0)
    # Nationally the SMS need no district (the dashboard adds them all up); in one district,
    # those about its referrals.
    messages = (
        select(sent_day, literal(found.district_id), Message.status, retried, func.count())
        .where(Message.created_at >= start, Message.created_at < end)
        .group_by(sent_day, Message.status, retried)
    )
    if found.district_id is not None:
        messages = messages.join(Referral, Referral.id == Message.referral_id).where(
            Referral.district_id == found.district_id
        )
    for when, district, status, was_retried, count in session.execute(messages):
        sms = at(when, district).sms
        sms[0] += count
        line = _SMS_LINE.get(status)
        if line is not None:
            sms[line] += count
        if was_retried:
            sms[6] += count
    found.days += by_day.values()

    found.live.append((start, end))
    if session.get_bind().dialect.name != "postgresql":
        seconds = select(
            Referral.urgent,
            seconds_between(session, Referral.acknowledged_at, Referral.created_at),
            seconds_between(session, Referral.closed_at, Referral.created_at),
        ).where(*where)
        for urgent, acknowledge, close in session.execute(seconds):
            for measure, value in (("acknowledge", acknowledge), ("close", close)):
                if value is not None:
                    found.seconds[SECONDS_COLUMNS[(measure, bool(urgent))]].append(float(value))


def spread(values: list[float], limit: float) -> tuple[int, int, float | None, float | None]:
    """(cases, within limit, median, 90th percentile) of seconds, as PostgreSQL counts them."""
    values = sorted(values)
    return len(values), bisect_right(values, limit), percentile(values, 0.5), percentile(values, 0.9)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont(fraction) of sorted values, the same arithmetic step by
    step (so that the same values give the same float): linear between the two nearest ranks."""
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
