"""The routing inbox: the confirm hop hands its report over with one Redis command, and a worker
routes it at once (or, when that fails, makes an RQ job of it: workers/inbox.py)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import keys
from gateway.models import Message, Referral, Report
from gateway.runtime import Runtime
from tests.helpers import (
    VOLUNTEER_PHONE,
    Dial,
    reference_in,
    register_officers,
    register_volunteer,
    start_worker,
    until,
)
from workers import inbox


def _alerts(rt: Runtime, reference: str) -> list[Message]:
    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == reference))
        if referral is None:
            return []
        return list(session.scalars(select(Message).where(Message.referral_id == referral.id)))


def _all_sent(alerts: list[Message]) -> bool:
    return bool(alerts) and all(alert.status == "sent" for alert in alerts)


def test_a_running_worker_routes_and_alerts_a_report_handed_over_by_the_confirm_hop(client, rt, tmp_path: Path):
    register_volunteer(rt)
    register_officers(rt)
    # At normal priority: a busy test machine must not hold it back.
    worker = start_worker(rt.settings, tmp_path / "worker.log", WORKER_NICENESS="0")
    try:
        assert until(lambda: rt.live_workers() == 1, 30), "the worker did not start"
        end = Dial(client, VOLUNTEER_PHONE).send("1", "2", "2", "1", "1", "1", "1", "1")
        reference = reference_in(end)
        # The caller has the reference; the report is stored and waits in the inbox, not as a job yet.
        with rt.db.reading() as session:
            assert session.scalar(select(Report.reference)) == reference
        # Written when routed (claimed, "sending"), sent right after the routing's commit.
        assert until(lambda: _all_sent(_alerts(rt, reference)), 40), (tmp_path / "worker.log").read_text()
        assert rt.redis.llen(keys.routing_inbox()) == 0
        assert all(alert.to and alert.status == "sent" for alert in _alerts(rt, reference))
        # Routed by the worker's inbox thread itself: no RQ job was made of it.
        assert rt.queue.fetch_job(f"route-report-{_report_id(rt, reference)}") is None
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def _report_id(rt: Runtime, reference: str) -> int:
    with rt.db.reading() as session:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
    assert report_id is not None
    return report_id


def test_the_inbox_routes_and_alerts_in_place_and_a_routing_that_fails_becomes_a_job(client, rt, monkeypatch, caplog):
    register_volunteer(rt)
    register_officers(rt)
    first = reference_in(
        Dial(client, VOLUNTEER_PHONE, session_id="ATUid_in1").send("1", "2", "2", "1", "1", "1", "1", "1")
    )
    second = reference_in(
        Dial(client, VOLUNTEER_PHONE, session_id="ATUid_in2").send("1", "2", "2", "1", "1", "1", "1", "1")
    )
    rt.redis.rpush(keys.routing_inbox(), "nonsense")
    broken = _report_id(rt, second)
    route_report = inbox.ROUTERS["report"]

    def fails_for_the_second(report_id: int) -> int | None:
        if report_id == broken:
            raise RuntimeError("the database went away")
        return route_report(report_id)

    monkeypatch.setitem(inbox.ROUTERS, "report", fails_for_the_second)
    with caplog.at_level(logging.WARNING, logger="workers.inbox"):
        assert inbox.route(rt) == 3
    assert rt.redis.llen(keys.routing_inbox()) == 0
    # The first is routed and alerted here, with no job; the second waits as its job, retried as jobs are.
    assert _alerts(rt, first) and all(alert.status == "sent" for alert in _alerts(rt, first))
    assert _alerts(rt, second) == []
    assert rt.queue.job_ids == [f"route-report-{broken}"]
    assert "names no report or visit" in caplog.text and f"routing report:{broken} failed" in caplog.text


def test_a_stopping_inbox_takes_no_more(rt):
    rt.redis.rpush(keys.routing_inbox(), *[f"report:{n}" for n in range(1, 30)])
    stop = threading.Event()
    stop.set()
    assert inbox.route(rt, stop=stop) == 0
    assert rt.redis.llen(keys.routing_inbox()) == 29


def test_an_item_naming_nothing_is_dropped_and_the_rest_queued(rt, caplog):
    rt.redis.rpush(keys.routing_inbox(), "report:7", "nonsense", "visit:x", "visit:9")
    with caplog.at_level(logging.WARNING, logger="workers.inbox"):
        assert inbox.move(rt) == 2
    assert sorted(rt.queue.job_ids) == ["route-report-7", "route-visit-9"]
    assert rt.redis.llen(keys.routing_inbox()) == 0
    assert caplog.text.count("names no report or visit") == 2


def test_items_not_queued_when_redis_refuses_the_job_go_back_to_the_inbox_in_order(rt, monkeypatch):
    rt.redis.rpush(keys.routing_inbox(), "report:1", "report:2", "report:3")
    queued = []

    def enqueue(func, row_id, job_id):  # type: ignore[no-untyped-def]
        if row_id == 2:
            raise ConnectionError("Redis went away")
        queued.append(row_id)

    monkeypatch.setattr(rt, "enqueue", enqueue)
    with pytest.raises(ConnectionError):
        inbox.move(rt)
    assert queued == [1]
    assert rt.redis.lrange(keys.routing_inbox(), 0, -1) == ["report:2", "report:3"]


def test_an_empty_inbox_waits_as_long_as_asked_and_moves_nothing(rt):
    assert inbox.move(rt, wait=1) == 0
    assert len(rt.queue) == 0


def test_metrics_show_reports_waiting_in_the_inbox_until_a_worker_makes_jobs_of_them(client, rt):
    from tests.gateway.test_metrics_and_logs import scrape

    register_volunteer(rt)
    Dial(client, VOLUNTEER_PHONE).send("1", "2", "2", "1", "1", "1", "1", "1")
    inbox_jobs = ("ijwi_queue_jobs", frozenset({("state", "inbox")}))
    queued_jobs = ("ijwi_queue_jobs", frozenset({("state", "queued")}))
    before = scrape(client)
    assert (before[inbox_jobs], before[queued_jobs]) == (1, 0)
    inbox.move(rt)
    after = scrape(client)
    assert (after[inbox_jobs], after[queued_jobs]) == (0, 1)


def test_a_burst_larger_than_one_take_is_moved_whole_and_in_order(rt):
    rt.redis.rpush(keys.routing_inbox(), *[f"report:{n}" for n in range(1, inbox.BATCH * 2 + 6)])
    assert inbox.move(rt) == inbox.BATCH * 2 + 5
    assert rt.queue.job_ids == [f"route-report-{n}" for n in range(1, inbox.BATCH * 2 + 6)]
    assert rt.redis.llen(keys.routing_inbox()) == 0
