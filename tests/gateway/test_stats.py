"""The programme's figures: counted in the database, for a period and a district."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from gateway import keys
from gateway.accounts import users
from gateway.clock import LOCAL_TIME
from gateway.referrals import stats
from gateway.runtime import Runtime
from tests.cases import NYARUGENGE_VILLAGE, RUSIZI_VILLAGE, insert_case, insert_message, insert_visit, place_id

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
TARGETS = stats.Targets(urgent_seconds=1800, normal_seconds=86400)
# Two weeks: 2026-03-07 .. 2026-03-20 (Rwanda's days).
PERIOD = stats.Period(datetime(2026, 3, 7).date(), datetime(2026, 3, 20).date())


def _figures(rt: Runtime, period: stats.Period = PERIOD) -> stats.Dashboard:
    with rt.db.reading() as session:
        return stats.dashboard(session, rt.places, period, TARGETS, NOW)


def _rows(table: stats.Table) -> dict[str, list[object]]:
    return {str(row[0]): row[1:] for row in table.rows}


def test_referrals_are_counted_per_week_category_district_and_urgency(rt: Runtime) -> None:
    first_week = datetime(2026, 3, 8, 9, tzinfo=UTC)
    second_week = datetime(2026, 3, 15, 9, tzinfo=UTC)
    insert_case(rt, 1, category="violence", urgent=True, created_at=first_week)
    insert_case(rt, 2, category="neglect", created_at=first_week)
    insert_case(rt, 3, NYARUGENGE_VILLAGE, category="neglect", created_at=second_week)
    # Before the period (local time: 2026-03-06 23:30), not counted.
    insert_case(rt, 4, category="neglect", created_at=datetime(2026, 3, 6, 21, 30, tzinfo=UTC))
    # Just inside (local 2026-03-07 00:30).
    insert_case(rt, 5, category="labour", created_at=datetime(2026, 3, 6, 22, 30, tzinfo=UTC))

    figures = _figures(rt)
    assert figures.table("per_week_by_category").columns == ["Week of", "violence", "neglect", "labour", "Total"]
    assert _rows(figures.table("per_week_by_category")) == {"2026-03-07": [1, 1, 1, 3], "2026-03-14": [0, 1, 0, 1]}
    assert _rows(figures.table("per_week_by_district")) == {"Nyarugenge": [0, 1, 1], "Rusizi": [3, 0, 3]}
    assert _rows(figures.table("urgent_share")) == {"2026-03-07": [3, 1, 33.3], "2026-03-14": [1, 0, 0.0]}

    rusizi = stats.Period(PERIOD.first, PERIOD.last, place_id(rt, "Rusizi"))
    assert _rows(_figures(rt, rusizi).table("per_week_by_district")) == {"Rusizi": [3, 0, 3]}


def test_response_times_give_median_and_90th_percentile_against_the_targets(rt: Runtime) -> None:
    start = datetime(2026, 3, 10, 8, tzinfo=UTC)
    for n, minutes in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], start=1):
        insert_case(rt, n, urgent=True, created_at=start, acknowledged_after=timedelta(minutes=minutes))
    insert_case(rt, 20, created_at=start, acknowledged_after=timedelta(hours=2), closed_after=timedelta(days=2))
    rows = _rows(_figures(rt).table("response_times"))
    cases, p50, p90, target, within = rows["to acknowledge (urgent)"]
    assert (cases, p50, target, within) == (10, 55.0, 30.0, 30.0)
    assert 90 <= p90 <= 91  # percentile_cont and Python's inclusive method agree within a minute
    assert rows["to acknowledge (not urgent)"] == [1, 120.0, 120.0, 1440.0, 100.0]
    assert rows["to close (not urgent)"] == [1, 2880.0, 2880.0, 1440.0, 0.0]
    assert rows["to close (urgent)"] == [0, None, None, 30.0, 0.0]


def test_open_overdue_escalated_and_flagged_cases_per_district(rt: Runtime) -> None:
    insert_case(rt, 1, urgent=True, status="routed", created_at=NOW - timedelta(hours=1))  # overdue (30 min)
    insert_case(rt, 2, status="routed", created_at=NOW - timedelta(hours=1), escalation_step=1)  # not overdue
    insert_case(rt, 3, status="acknowledged", created_at=NOW - timedelta(days=3))
    insert_case(rt, 4, status="closed", created_at=NOW - timedelta(days=3), escalation_step=3, flagged=True)
    insert_case(rt, 5, NYARUGENGE_VILLAGE, status="new", created_at=NOW - timedelta(days=2))  # overdue (a day)

    figures = _figures(rt)
    assert figures.table("open_cases").rows == [["Nyarugenge", 1, 1, 1, 0], ["Rusizi", 3, 2, 1, 1]]
    assert _rows(figures.table("escalations")) == {"Rusizi": [4, 2, 1, 1], "Nyarugenge": [1, 0, 0, 0]}


def test_sms_are_counted_by_state_and_retries(rt: Runtime) -> None:
    rusizi = insert_case(rt, 1, created_at=NOW - timedelta(days=1))
    other = insert_case(rt, 2, NYARUGENGE_VILLAGE, created_at=NOW - timedelta(days=1))
    for status, attempts in (("delivered", 1), ("delivered", 2), ("failed", 3), ("sent", 1), ("retrying", 2)):
        insert_message(rt, rusizi, status, attempts, NOW - timedelta(hours=5))
    insert_message(rt, other, "delivered", 1, NOW - timedelta(hours=5))
    insert_message(rt, rusizi, "delivered", 1, NOW - timedelta(days=30))  # before the period

    rows = _rows(_figures(rt).table("sms"))
    assert [rows[k][0] for k in ("written", "delivered", "sent", "failed", "waiting", "cancelled", "retried")] == [
        6,
        3,
        1,
        1,
        1,
        0,
        3,
    ]
    rusizi_only = stats.Period(PERIOD.first, PERIOD.last, place_id(rt, "Rusizi"))
    assert _rows(_figures(rt, rusizi_only).table("sms"))["delivered"][0] == 2


def test_home_visits_families_and_villages_not_visited(rt: Runtime) -> None:
    at = NOW - timedelta(days=3)
    insert_visit(rt, 1, RUSIZI_VILLAGE, "hh-1", at)
    insert_visit(rt, 2, RUSIZI_VILLAGE, "hh-1", at)  # the same family again
    insert_visit(rt, 3, RUSIZI_VILLAGE, "hh-2", at)
    insert_visit(rt, 4, NYARUGENGE_VILLAGE, "hh-1", at)  # same code, another village: another family

    figures = _figures(rt)
    month = at.astimezone(LOCAL_TIME).strftime("%Y-%m")
    assert figures.table("visits").rows == [["Nyarugenge", month, 1, 1, 1, 1], ["Rusizi", month, 3, 2, 1, 1]]
    unvisited = _rows(figures.table("unvisited_villages"))
    villages, missing, _ = unvisited["Rusizi"]
    assert isinstance(villages, int) and villages > 100 and missing == villages - 1


def test_a_period_ending_before_it_starts_is_refused(rt: Runtime) -> None:
    backwards = stats.Period(PERIOD.last, PERIOD.first)
    try:
        _figures(rt, backwards)
    except stats.PeriodError as exc:
        assert "ends before it starts" in str(exc)
    else:
        raise AssertionError("a backwards period was counted")


def _token(rt: Runtime, email: str, role: str, district: str | None = None) -> str:
    users.create_user(rt, email, "a long password", role, district)
    return users.issue_token(rt, email)


def _stats(client: FlaskClient, token: str, query: str = "") -> Any:
    return client.get("/api/v1/stats" + query, headers={"Authorization": f"Bearer {token}"})


def test_the_api_gives_the_same_figures_and_an_officer_only_their_districts(client: FlaskClient, rt: Runtime) -> None:
    today = datetime.now(UTC)
    insert_case(rt, 1, category="violence", created_at=today - timedelta(days=1))
    insert_case(rt, 2, NYARUGENGE_VILLAGE, category="neglect", created_at=today - timedelta(days=1))
    admin = _token(rt, "ada@example.org", "admin")
    officer = _token(rt, "olive@example.org", "officer", "Rusizi")

    body = _stats(client, admin).get_json()
    assert body["district"] is None
    by_district = {row[0]: row[-1] for row in body["tables"]["per_week_by_district"]["rows"]}
    assert by_district == {"Nyarugenge": 1, "Rusizi": 1}

    mine = _stats(client, officer).get_json()
    assert mine["district"] == "Rusizi"
    assert [row[0] for row in mine["tables"]["per_week_by_district"]["rows"]] == ["Rusizi"]
    assert _stats(client, officer, "?district=rusizi").status_code == 200
    refused = _stats(client, officer, "?district=Nyarugenge")
    assert refused.status_code == 403 and "own district" in refused.get_json()["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=yesterday", "YYYY-MM-DD"),
        ("?from=2026-03-10&to=2026-03-01", "ends before it starts"),
        ("?from=2020-01-01&to=2026-01-01", "at most 400 days"),
        ("?district=Atlantis", "no district named"),
        ("?weeks=3", "unknown parameter"),
    ],
)
def test_bad_stats_parameters_get_400_with_a_sentence(
    client: FlaskClient, rt: Runtime, query: str, message: str
) -> None:
    response = _stats(client, _token(rt, "vic@example.org", "viewer"), query)
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_a_period_given_by_its_dates_counts_those_days(client: FlaskClient, rt: Runtime) -> None:
    insert_case(rt, 1, created_at=datetime(2026, 3, 8, 9, tzinfo=UTC))
    body = _stats(client, _token(rt, "vic@example.org", "viewer"), "?from=2026-03-07&to=2026-03-13").get_json()
    assert body["period"] == {"from": "2026-03-07", "to": "2026-03-13"}
    assert body["tables"]["per_week_by_category"]["rows"] == [["2026-03-07", 1, 1]]


def test_a_dashboard_is_kept_a_minute_then_counted_again(rt: Runtime) -> None:
    period = stats.Period(PERIOD.first, PERIOD.last)
    insert_case(rt, 1, created_at=datetime(2026, 3, 8, 9, tzinfo=UTC))
    first = stats.cached_dashboard(rt, period, NOW)
    insert_case(rt, 2, created_at=datetime(2026, 3, 8, 10, tzinfo=UTC))
    kept = stats.cached_dashboard(rt, period, NOW)
    assert kept.as_dict() == first.as_dict() and _rows(kept.table("urgent_share"))["2026-03-07"][0] == 1
    key = stats.cache_key(period)
    assert 0 < int(rt.redis.ttl(key)) <= keys.DASHBOARD_TTL  # type: ignore[arg-type]
    rt.redis.delete(key)  # as when the minute is over
    assert _rows(stats.cached_dashboard(rt, period, NOW).table("urgent_share"))["2026-03-07"][0] == 2
