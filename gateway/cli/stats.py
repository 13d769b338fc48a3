"""flask stats: the dashboards' daily roll-up (gateway/referrals/rollup.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from gateway import runtime
from gateway.clock import LOCAL_TIME, utcnow
from gateway.models import Message, Referral
from gateway.referrals import rollup, stats

group = AppGroup(
    "stats",
    help="""The dashboards' figures and their daily roll-up.

\b
Examples:
  ./ijwi stats rollup               # count and keep every day that is over and not kept yet
  ./ijwi stats rollup --rebuild     # count every kept day again (after rows were deleted by hand)
  ./ijwi stats check --from 2026-01-01   # the roll-up's figures against counting the records
""",
)


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-03-01", param_hint=option) from None


@group.command("rollup", short_help="Count and keep the days the dashboards add up.")
@click.option("--from", "first", help="First day, YYYY-MM-DD (default: the day of the oldest referral or SMS).")
@click.option("--rebuild", is_flag=True, help="Count every kept day again from the records.")
def rollup_command(first: str | None, rebuild: bool) -> None:
    """Count from the records every day that is over and not kept yet (and the kept days that
    changed since), and keep them; the dashboards then only count today. Safe to run at any
    time, e.g. every night; a dashboard does the same for the days it shows."""
    rt = runtime.current()
    now = utcnow()
    start = _day(first, "--from")
    with rt.db.transaction() as session:
        if start is None:
            oldest = [session.scalar(select(func.min(m.created_at))) for m in (Referral, Message)]
            moments = [m for m in oldest if isinstance(m, datetime)]
            start = min(moments).astimezone(LOCAL_TIME).date() if moments else now.astimezone(LOCAL_TIME).date()
        counted = rollup.refresh(session, start, now.astimezone(LOCAL_TIME).date(), now, rebuild=rebuild)
    if counted is None:
        raise click.ClickException("another refresh of the roll-up is at work; try again in a minute")
    yesterday = now.astimezone(LOCAL_TIME).date() - timedelta(days=1)
    what = "counted again" if rebuild else "counted"
    click.echo(f"{counted} days {what} from the records; the roll-up keeps every day from {start} to {yesterday}.")


@group.command("check", short_help="Compare the roll-up's figures with counting the records.")
@click.option("--from", "first", help="YYYY-MM-DD (default: 12 weeks before --to).")
@click.option("--to", "last", help="YYYY-MM-DD (default: today).")
def check_command(first: str | None, last: str | None) -> None:
    """The dashboard of a period (every district) added up from the roll-up and counted from
    the records: the same figures, or the tables that differ (exit status 1)."""
    rt = runtime.current()
    now = utcnow()
    try:
        period = stats.parse_period(first or "", last or "", now.astimezone(LOCAL_TIME).date())
    except stats.PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    rolled = stats.counted_dashboard(rt, period, now)
    with rt.db.reading() as session:
        live = stats.dashboard(session, rt.places, period, stats.Targets.of(rt.settings), now, live=True)
    differ = [t.key for t, other in zip(rolled.tables, live.tables, strict=True) if t.as_dict() != other.as_dict()]
    if differ:
        raise click.ClickException(f"{period.first} to {period.last}: these tables differ: {', '.join(differ)}")
    click.echo(f"{period.first} to {period.last}: the roll-up and the records give the same figures.")
