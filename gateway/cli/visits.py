"""flask visits: home visits by volunteers."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway import runtime
from gateway.clock import utcnow
from gateway.referrals import visits

group = AppGroup(
    "visits",
    help="""Home visits by volunteers.

\b
Examples:
  ./ijwi visits summary --month 2026-11 --district Nyarugenge
""",
)


@group.command("summary", short_help="Home visits per volunteer and village in a month.")
@click.option("--month", help="YYYY-MM, in Rwanda's time (default: this month).")
@click.option("--district", help="Only this district (any case).")
def visits_summary(month: str | None, district: str | None) -> None:
    """Home visits per volunteer and village in a month: visits, households, visits with concerns."""
    month = month or visits.month_of(utcnow())
    try:
        counts = visits.summary(runtime.current(), month, district)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-11", param_hint="--month") from None
    except visits.UnknownDistrictError:
        raise click.BadParameter(f"no district named {district!r}", param_hint="--district") from None
    click.echo(f"Home visits, {month}" + (f", {district}" if district else ""))
    for line in visits.table(counts):
        click.echo(line)
