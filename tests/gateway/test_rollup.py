"""The dashboards' daily roll-up gives what counting the records gives, whatever changed since
a day was kept: late acknowledgements, transfers, closings, SMS retried or failed, late rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select, update

from gateway.clock import LOCAL_TIME
from gateway.models import DailyFigures, DailyFiguresDay, Message, Referral
from gateway.referrals import lifecycle, rollup, stats
from gateway.runtime import Runtime
from gateway.vocabulary import CloseOutcome
from tests.cases import NYARUGENGE_VILLAGE, RUSIZI_VILLAGE, insert_case, insert_message, insert_visit, place_id

# The roll-up keeps days that are over by the clock: the records are put in the last weeks.
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(LOCAL_TIME).date()
PERIOD = stats.Period.last_weeks(TODAY, weeks=4)


def _days_ago(days: int, hour: int = 9) -> datetime:
    """hour o'clock (UTC) of the day so many days ago."""
    return datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), UTC) + timedelta(hours=hour)


def _rolled(rt: Runtime, period: stats.Period = PERIOD) -> dict[str, Any]:
    """The dashboard as the pages get it: the roll-up brought up to date, then added up."""
    return stats.counted_dashboard(rt, period, NOW).as_dict()


def _live(rt: Runtime, period: stats.Period = PERIOD) -> dict[str, Any]:
    with rt.db.reading() as session:
        return stats.dashboard(session, rt.places, period, stats.Targets.of(rt.settings), NOW, live=True).as_dict()


def _same(rt: Runtime, period: stats.Period = PERIOD) -> dict[str, dict[str, Any]]:
    """The rolled-up dashboard, after checking it equals the one counted from the records."""
    rolled = _rolled(rt, period)
    assert rolled == _live(rt, period)
    tables: dict[str, dict[str, Any]] = rolled["tables"]
    return tables


def _row(table: dict[str, Any], name: str) -> list[Any]:
    return next(row[1:] for row in table["rows"] if row[0] == name)


def _kept_days(rt: Runtime) -> int:
    with rt.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(DailyFiguresDay)) or 0)


def _cases(rt: Runtime) -> dict[str, int]:
    """A few weeks of cases in two districts, with their SMS and a visit."""
    made = {
        "late": insert_case(rt, 1, category="violence", urgent=True, created_at=_days_ago(20)),
        "quick": insert_case(
            rt, 2, urgent=True, created_at=_days_ago(20, 10), acknowledged_after=timedelta(minutes=12)
        ),
        "closed": insert_case(
            rt,
            3,
            NYARUGENGE_VILLAGE,
            category="labour",
            created_at=_days_ago(9),
            acknowledged_after=timedelta(hours=3),
            closed_after=timedelta(days=2),
            escalation_step=1,
        ),
        "wrong place": insert_case(rt, 4, created_at=_days_ago(5), escalation_step=3, flagged=True),
        "today": insert_case(rt, 5, category="marriage", created_at=NOW - timedelta(minutes=5)),
        # 00:30 in Rwanda on the first day of the period's second week (22:30 UTC the day before).
        "after midnight": insert_case(rt, 6, created_at=_days_ago(21, 22) + timedelta(minutes=30)),
    }
    insert_message(rt, made["late"], "failed", 3, _days_ago(20, 11))
    insert_message(rt, made["quick"], "delivered", 1, _days_ago(20, 11))
    insert_message(rt, made["closed"], "delivered", 2, _days_ago(9, 11))
    insert_message(rt, made["wrong place"], "sent", 1, _days_ago(4, 11))  # the day after the case
    insert_visit(rt, 1, RUSIZI_VILLAGE, "hh-1", _days_ago(3))
    # Written an hour ago, as if long before: only what changes from now on makes a kept day stale.
    with rt.db.transaction() as session:
        for table in (Referral, Message):
            session.execute(update(table).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
    return made


def test_kept_days_give_what_counting_the_records_gives(rt: Runtime) -> None:
    _cases(rt)
    tables = _same(rt)
    # Every day of the period before today is kept; today is counted from the records.
    assert _kept_days(rt) == (PERIOD.last - PERIOD.first).days
    assert [row[-1] for row in tables["per_week_by_category"]["rows"]] == [0, 3, 1, 2]
    assert _row(tables["escalations"], "Rusizi") == [5, 1, 1, 1]
    assert _row(tables["response_times"], "to acknowledge (urgent)")[:2] == [1, 12.0]
    assert _row(tables["sms"], "failed")[0] == 1
    assert _row(tables["sms"], "retried")[0] == 2
    # Asked again with nothing written since, no day is counted again.
    with rt.db.transaction() as session:
        assert rollup.refresh(session, PERIOD.first, PERIOD.last, datetime.now(UTC)) == 0


def test_a_case_acknowledged_closed_and_transferred_days_later_is_counted_again(rt: Runtime) -> None:
    made = _cases(rt)
    before = _same(rt)
    assert _row(before["response_times"], "to acknowledge (urgent)")[0] == 1

    rusizi, nyarugenge = place_id(rt, "Rusizi"), place_id(rt, "Nyarugenge")
    with rt.db.transaction() as session:
        late = session.get_one(Referral, made["late"])
        # Acknowledged 19 days after it came (the day it came is kept).
        lifecycle.acknowledge(session, late, None, _days_ago(1), via="web", actor="test")
        lifecycle.close(rt, session, late, None, _days_ago(1, 12), outcome=CloseOutcome.REFERRED, via="web")
        wrong = session.get_one(Referral, made["wrong place"])
        lifecycle.transfer(rt, session, wrong, None, nyarugenge, NOW, via="web", actor="test")
    after = _same(rt)
    acknowledged = _row(after["response_times"], "to acknowledge (urgent)")
    assert acknowledged[0] == 2 and acknowledged[2] > 60 * 24 * 10  # the 90th percentile: days, in minutes
    assert _row(after["response_times"], "to close (urgent)")[0] == 1
    # The transferred case, and its SMS, are counted in its new district.
    assert _row(after["escalations"], "Rusizi") == [4, 0, 0, 0]
    assert _row(after["escalations"], "Nyarugenge")[:3] == [2, 1, 0]  # routed there from the start
    nyarugenge_only = stats.Period(PERIOD.first, PERIOD.last, nyarugenge)
    assert _row(_same(rt, nyarugenge_only)["sms"], "sent")[0] == 1
    assert _row(_same(rt, stats.Period(PERIOD.first, PERIOD.last, rusizi))["sms"], "sent")[0] == 0


def test_sms_retried_failed_or_written_late_on_a_kept_day_are_counted_again(rt: Runtime) -> None:
    made = _cases(rt)
    _same(rt)
    with rt.db.transaction() as session:
        session.execute(
            update(Message)
            .where(Message.referral_id == made["quick"])
            .values(status="failed", attempts=4, updated_at=datetime.now(UTC))
        )
    insert_message(rt, made["closed"], "retrying", 2, _days_ago(9, 15))  # a late row on a kept day
    insert_case(rt, 9, category="school", created_at=_days_ago(12))  # and a late case
    tables = _same(rt)
    assert _row(tables["sms"], "failed")[0] == 2
    assert _row(tables["sms"], "waiting")[0] == 1
    assert _row(tables["sms"], "retried")[0] == 4
    assert "school" in tables["per_week_by_category"]["columns"]


def test_a_write_committed_after_the_count_but_stamped_before_is_found(rt: Runtime) -> None:
    made = _cases(rt)
    _same(rt)
    # A transaction that stamped its row a few minutes ago and committed after the refresh:
    # the next check looks back MARGIN again, and counts the day again.
    stamped = datetime.now(UTC) - rollup.MARGIN / 2
    with rt.db.transaction() as session:
        session.execute(
            update(Referral)
            .where(Referral.id == made["closed"])
            .values(status="routed", closed_at=None, updated_at=stamped)
        )
    assert _row(_same(rt)["response_times"], "to close (not urgent)")[0] == 0


def test_a_stale_day_is_counted_from_the_records_until_the_next_refresh(rt: Runtime) -> None:
    made = _cases(rt)
    _same(rt)
    with rt.db.transaction() as session:
        session.execute(
            update(Referral).where(Referral.id == made["quick"]).values(urgent=False, updated_at=datetime.now(UTC))
        )
    # No refresh: dashboard() reads the kept days but counts the stale one from the records.
    with rt.db.reading() as session:
        rolled = stats.dashboard(session, rt.places, PERIOD, stats.Targets.of(rt.settings), NOW).as_dict()
    assert rolled == _live(rt)
    assert _row(rolled["tables"]["response_times"], "to acknowledge (not urgent)")[0] == 2


def test_the_rebuild_command_counts_every_kept_day_again(rt: Runtime, runner: FlaskCliRunner) -> None:
    made = _cases(rt)
    _same(rt)
    # Rows deleted by hand are not seen by the check: the command counts every day again.
    with rt.db.transaction() as session:
        session.execute(delete(Message).where(Message.referral_id == made["late"]))
    result = runner.invoke(args=["stats", "rollup", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "counted again" in result.output
    assert _row(_same(rt)["sms"], "failed")[0] == 0
    with rt.db.reading() as session:
        assert session.scalar(select(func.sum(DailyFigures.sms_failed))) == 0


def test_the_check_command_says_the_roll_up_matches_the_records(rt: Runtime, runner: FlaskCliRunner) -> None:
    _cases(rt)
    result = runner.invoke(args=["stats", "check", "--from", PERIOD.first.isoformat()])
    assert result.exit_code == 0, result.output
    assert "the same figures" in result.output


@pytest.mark.parametrize("values", [[], [5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0], [0.1 * i for i in range(1, 12)]])
def test_percentiles_are_postgresqls_percentile_cont(values: list[float]) -> None:
    count, _, p50, p90 = rollup.spread(values, 2.0)
    assert count == len(values)
    if not values:
        assert (p50, p90) == (None, None)
        return
    ordered = sorted(values)
    rank = 0.9 * (len(ordered) - 1)
    low = int(rank)
    expected = ordered[low] + (ordered[min(low + 1, len(ordered) - 1)] - ordered[low]) * (rank - low)
    assert p90 == pytest.approx(expected)
    assert p50 == pytest.approx(
        sorted(values)[len(values) // 2]
        if len(values) % 2
        else sum(ordered[len(values) // 2 - 1 : len(values) // 2 + 1]) / 2
    )


def test_a_period_of_today_alone_is_counted_from_the_records(rt: Runtime) -> None:
    _cases(rt)
    today = stats.Period(TODAY, TODAY)
    tables = _same(rt, today)
    assert _row(tables["per_week_by_category"], TODAY.isoformat())[-1] == 1
    assert _kept_days(rt) == 0
