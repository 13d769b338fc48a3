"""Home visits counted per volunteer, village and month ("families visited by IZU")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import aliased

from gateway.clock import LOCAL_TIME, utcnow
from gateway.models import Location, Visit, Volunteer
from gateway.registry.imports import find_district
from gateway.runtime import Runtime


class UnknownDistrictError(LookupError):
    """No district has this name."""


@dataclass(frozen=True)
class VisitCount:
    """One volunteer's home visits in one village during one month."""

    month: str
    district: str
    sector: str
    cell: str
    village: str
    volunteer: str
    visits: int
    # Distinct household codes: the families visited.
    households: int
    # Visits with at least one domain of concern: each opens a follow-up referral.
    with_concerns: int


def month_of(moment: datetime) -> str:
    """The month (YYYY-MM, Rwanda's time) a moment falls in."""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first moment of a month (YYYY-MM, Rwanda's time) and of the next; ValueError if malformed."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=LOCAL_TIME)
    following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, following


def summary(rt: Runtime, month: str | None = None, district: str | None = None) -> list[VisitCount]:
    """Visits of a month (default: this one), per volunteer and village, optionally in one district."""
    month = month or month_of(utcnow())
    start, following = month_bounds(month)
    village, cell, sector, district_row = (aliased(Location) for _ in range(4))
    query = (
        select(
            district_row.name,
            sector.name,
            cell.name,
            village.name,
            Volunteer.name,
            func.count(Visit.id),
            func.count(distinct(Visit.household_code)),
            func.sum(case((func.json_array_length(Visit.concerns) > 0, 1), else_=0)),
        )
        .join(Volunteer, Visit.volunteer_id == Volunteer.id)
        .join(village, Visit.village_id == village.id)
        .join(cell, village.parent_id == cell.id)
        .join(sector, cell.parent_id == sector.id)
        .join(district_row, sector.parent_id == district_row.id)
        .where(Visit.created_at >= start, Visit.created_at < following)
        .group_by(Visit.volunteer_id, Volunteer.name, Visit.village_id, village.name, cell.name, sector.name)
        .group_by(district_row.name)
        .order_by(district_row.name, sector.name, cell.name, village.name, Volunteer.name)
    )
    with rt.db.reading() as session:
        if district:
            place = find_district(session, district)
            if place is None:
                raise UnknownDistrictError(district)
            query = query.where(district_row.id == place.id)
        rows = session.execute(query).all()
    return [VisitCount(month, *row) for row in rows]


def table(counts: list[VisitCount]) -> list[str]:
    """counts as the lines of a plain-text table, with a total line."""
    header = ("District", "Sector", "Cell", "Village", "Volunteer", "Visits", "Households", "With concerns")
    rows = [
        (c.district, c.sector, c.cell, c.village, c.volunteer, str(c.visits), str(c.households), str(c.with_concerns))
        for c in counts
    ]
    total = (
        "Total",
        "",
        "",
        _count(len({(c.district, c.sector, c.cell, c.village) for c in counts}), "village"),
        _count(len(counts), "volunteer"),
        str(sum(c.visits for c in counts)),
        str(sum(c.households for c in counts)),
        str(sum(c.with_concerns for c in counts)),
    )
    widths = [max(len(r[i]) for r in (header, *rows, total)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        # Names to the left, figures to the right.
        return "  ".join(
            c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule, *[line(r) for r in rows], rule, line(total)]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
