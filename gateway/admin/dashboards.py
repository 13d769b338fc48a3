"""Dashboards in the admin web: every table of `referrals.stats` as a chart with the table
beside it, for a chosen period and district; the tables and a district's monthly programme
report as CSV or XLSX.

Charts are SVG drawn on the server by pygal (no script, nothing fetched): their style sheet
carries the page's CSP nonce, their tooltips and comments are left out to keep pages light.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pygal
from flask import abort, render_template, request
from markupsafe import Markup
from pygal.style import Style
from werkzeug.wrappers import Response

from gateway import keys
from gateway.accounts import audit
from gateway.admin.auth import READERS, require_role, user
from gateway.admin.base import bp, runtime
from gateway.admin.cases import districts, download
from gateway.clock import LOCAL_TIME, utcnow
from gateway.referrals import exports, stats
from gateway.vocabulary import UserRole

# Colours of the charts: the admin web's green first, then colours told apart by most people.
PALETTE = ("#0b5f4a", "#e69f00", "#56b4e9", "#cc79a7", "#009e73", "#d55e00", "#0072b2", "#999999", "#f0e442")
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#d5dae2",
    colors=PALETTE,
    font_family="system-ui, sans-serif",
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
    value_font_size=15,
    title_font_size=16,
)
# pygal's config script, per-point descriptions (for its script's tooltips) and comments:
# bytes for nothing here (and the CSP would refuse the script).
_DESC = re.compile(r"<script[^>]*>.*?</script>|<desc[^>]*>.*?</desc>|<!--.*?-->", re.S)
# Stands for the page's CSP nonce in a kept chart.
NONCE = "{{nonce}}"
_STYLE_TAG = re.compile(r"<style type=\"text/css\">")


# Weeks along the bottom: every other one named, so that the names do not overlap.
WEEK_AXIS = {"x_label_rotation": 40, "x_labels_major_every": 2, "show_minor_x_labels": False}


def _options(**extra: Any) -> dict[str, Any]:
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        # Drawn small and scaled: its words stay readable on a phone (360 px) and a laptop.
        "width": 420,
        "height": 300,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 2,
        "legend_box_size": 14,
        "truncate_legend": 22,
        "truncate_label": 12,
        "print_zeroes": False,
        "margin": 8,
        "spacing": 8,
        **extra,
    }


def _svg(chart: Any, nonce: str, n: int) -> Markup:
    """A pygal chart as inline SVG: a short id, no tooltips, its style sheet allowed by the nonce."""
    svg = chart.render(is_unicode=True)
    svg = _DESC.sub("", svg).replace(chart.uuid, f"c{n}")
    svg = _STYLE_TAG.sub(f'<style nonce="{nonce}">', svg)
    return Markup(svg)  # noqa: S704 (pygal's output with our own figures, escaped by pygal)


def _drawn(figures: stats.Dashboard | None) -> dict[str, str]:
    """Every chart of figures as SVG (NONCE where the page's nonce goes), drawn once while the
    figures are kept (drawing takes longer than reading them)."""
    if figures is None:
        return {}
    rt = runtime()
    key = stats.cache_key(figures.period, "charts")
    kept = rt.redis.get(key)
    if isinstance(kept, str):
        drawn: dict[str, str] = json.loads(kept)
        return drawn
    drawn = {}
    for n, table in enumerate(figures.tables):
        draw = CHARTS.get(table.key)
        if draw is not None and table.rows:
            drawn[table.key] = str(_svg(draw(table), NONCE, n))
    rt.redis.set(key, json.dumps(drawn), ex=keys.DASHBOARD_TTL)
    return drawn


def _column(table: stats.Table, name: str) -> list[Any]:
    i = table.columns.index(name)
    return [row[i] for row in table.rows]


def _per_category(table: stats.Table) -> Any:
    chart = pygal.StackedBar(**_options(**WEEK_AXIS))
    chart.x_labels = [row[0][5:] for row in table.rows]
    for name in table.columns[1:-1]:
        chart.add(name, _column(table, name))
    return chart


def _per_district(table: stats.Table) -> Any:
    rows = sorted(table.rows, key=lambda r: -r[-1])[:15]
    chart = pygal.HorizontalBar(**_options(show_legend=False, print_values=True, height=max(220, 30 * len(rows) + 70)))
    chart.x_labels = [r[0] for r in reversed(rows)]
    chart.add("Referrals", [r[-1] for r in reversed(rows)])
    return chart


def _urgent(table: stats.Table) -> Any:
    chart = pygal.Line(**_options(show_legend=False, range=(0, 100), fill=True, **WEEK_AXIS))
    chart.x_labels = [row[0][5:] for row in table.rows]
    chart.add("Urgent %", _column(table, "Urgent %"))
    return chart


def _response(table: stats.Table) -> Any:
    chart = pygal.Bar(**_options(logarithmic=False))
    chart.x_labels = [row[0].removeprefix("to ") for row in table.rows]
    for name in ("Median", "90th percentile", "Target"):
        chart.add(name + " (min)", _column(table, name))
    return chart


def _open(table: stats.Table) -> Any:
    rows = table.rows[:15]
    chart = pygal.HorizontalStackedBar(**_options(height=max(220, 30 * len(rows) + 110)))
    chart.x_labels = [r[0] for r in reversed(rows)]
    chart.add("Overdue", [r[3] for r in reversed(rows)])
    chart.add("Waiting, in time", [r[2] - r[3] for r in reversed(rows)])
    chart.add("Acknowledged", [r[1] - r[2] for r in reversed(rows)])
    return chart


def _escalations(table: stats.Table) -> Any:
    rows = [r for r in table.rows if r[2] or r[4]][:15]
    chart = pygal.HorizontalBar(**_options(height=max(220, 30 * len(rows) + 110)))
    chart.x_labels = [r[0] for r in reversed(rows)]
    chart.add("Escalated", [r[2] for r in reversed(rows)])
    chart.add("Flagged", [r[4] for r in reversed(rows)])
    return chart


def _sms(table: stats.Table) -> Any:
    chart = pygal.Bar(**_options(show_legend=False, print_values=True))
    rows = [r for r in table.rows if r[0] != "written"]
    chart.x_labels = [r[0] for r in rows]
    chart.add("SMS", [r[1] for r in rows])
    return chart


def _visits(table: stats.Table) -> Any:
    months = sorted({r[1] for r in table.rows})
    chart = pygal.Bar(**_options())
    chart.x_labels = months
    chart.add("Visits", [sum(r[2] for r in table.rows if r[1] == m) for m in months])
    chart.add("Families visited", [sum(r[3] for r in table.rows if r[1] == m) for m in months])
    return chart


def _unvisited(table: stats.Table) -> Any:
    rows = sorted(table.rows, key=lambda r: -r[3])[:15]
    chart = pygal.HorizontalBar(**_options(show_legend=False, range=(0, 100), height=max(220, 30 * len(rows) + 70)))
    chart.x_labels = [r[0] for r in reversed(rows)]
    chart.add("Not visited %", [r[3] for r in reversed(rows)])
    return chart


CHARTS: dict[str, Callable[[stats.Table], Any]] = {
    "per_week_by_category": _per_category,
    "per_week_by_district": _per_district,
    "urgent_share": _urgent,
    "response_times": _response,
    "open_cases": _open,
    "escalations": _escalations,
    "sms": _sms,
    "visits": _visits,
    "unvisited_villages": _unvisited,
}


def _figures() -> tuple[stats.Dashboard | None, str, list[tuple[int, str]]]:
    """The dashboard of the request's period and district (an officer's: their district)."""
    rt = runtime()
    me = user()
    now = utcnow()
    district_id = request.args.get("district", type=int)
    if me.role == UserRole.OFFICER:
        district_id = me.district_id
    with rt.db.reading() as session:
        choices = sorted(districts(session), key=lambda d: d[1])
        if district_id is not None and district_id not in {d for d, _ in choices}:
            return None, "unknown district", choices
        try:
            period = stats.parse_period(
                request.args.get("from", ""), request.args.get("to", ""), now.astimezone(LOCAL_TIME).date(), district_id
            )
        except stats.PeriodError as exc:
            return None, str(exc).capitalize() + ".", choices
    return stats.cached_dashboard(rt, period, now), "", choices


@bp.get("/dashboards")
@require_role(*READERS)
def dashboards() -> str | tuple[str, int]:
    figures, error, choices = _figures()
    nonce = secrets.token_urlsafe(12)
    charts = {k: Markup(svg.replace(NONCE, nonce)) for k, svg in _drawn(figures).items()}  # noqa: S704
    page = render_template(
        "admin/dashboards/index.html",
        section="admin.dashboards",
        figures=figures,
        charts=charts,
        error=error,
        districts=choices,
        query=request.args,
        month=utcnow().astimezone(LOCAL_TIME).strftime("%Y-%m"),
    )
    response = Response(page, status=400 if error else 200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-{nonce}'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return response  # type: ignore[return-value]


@bp.get("/dashboards/export.<fmt>")
@require_role(*READERS)
def dashboards_export(fmt: str) -> Response:
    """Every table of the dashboard as CSV (one after another) or XLSX (a sheet each)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    figures, error, _ = _figures()
    if figures is None:
        abort(400, description=error)
    name = f"ijwi-dashboard-{figures.period.first}-{figures.period.last}"
    if figures.district:
        name += "-" + figures.district.lower().replace(" ", "-")
    return download(figures.tables, fmt, name)


@bp.get("/dashboards/report.<fmt>")
@require_role(*READERS)
def monthly_report(fmt: str) -> Response:
    """A district's programme report for a month: cases by category and outcome, response times, families visited."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    rt = runtime()
    me = user()
    district_id = me.district_id if me.role == UserRole.OFFICER else request.args.get("district", type=int)
    month = request.args.get("month", "")
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        abort(400, description="Choose a month (YYYY-MM).")
    with rt.db.transaction() as session:
        names = dict(districts(session))
        if district_id not in names:
            abort(400, description="Choose a district for the monthly report.")
        assert district_id is not None
        try:
            datetime.strptime(month, "%Y-%m")
        except ValueError:
            abort(400, description="Choose a month (YYYY-MM).")
        tables = exports.monthly_report(session, rt.places, month, district_id, stats.Targets.of(rt.settings), utcnow())
        audit.record(session, me.email, audit.EXPORT_CASES, detail=f"monthly report {names[district_id]} {month}")
    slug = names[district_id].lower().replace(" ", "-")
    return download(tables, fmt, f"ijwi-report-{slug}-{month}")
