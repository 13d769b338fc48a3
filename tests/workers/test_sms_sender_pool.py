"""A worker process's sender pool: a referral's alerts go out side by side, the job goes on at once,
and every outbox rule holds as when a job sends its own (claimed before sent, one request per
message, retries, failover); the SDK keeps its connections open."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import select

from bench.sms_stub import SmsStub
from gateway.clock import utcnow
from gateway.models import Event, Message, Report
from gateway.referrals import lifecycle
from gateway.sms import outbox
from gateway.sms.provider import ACCEPTED, AfricasTalkingSms
from gateway.vocabulary import EventKind
from tests.helpers import (
    AT_SMS_URL,
    OFF_DUTY,
    PSYCHOLOGIST,
    SOCIAL_WORKER,
    at_answer,
    make_report,
    register_officers,
)
from workers import jobs, sender

HEADER = "name,phone,role,district,sector,on_duty,language\n"
TWO_ON_DUTY = (
    HEADER
    + f"Social Worker,{SOCIAL_WORKER},social_worker,Nyarugenge,,yes,en\n"
    + f"Psychologist,{PSYCHOLOGIST},psychologist,Nyarugenge,,yes,rw\n"
)
WITH_BACKUP = (
    HEADER
    + f"Only Officer,{SOCIAL_WORKER},social_worker,Nyarugenge,,yes,en\n"
    + f"Backup Officer,{OFF_DUTY},social_worker,Nyarugenge,,no,en\n"
)
# Seconds the played SMS API takes to answer.
ROUND_TRIP = 0.2


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return replace(settings, sms_backend="africastalking")


@pytest.fixture
def pool() -> Iterator[sender.BackgroundSender]:
    """A sender pool installed as a worker process installs one."""
    installed = sender.BackgroundSender(threads=4)
    previous = sender.install(installed)
    try:
        yield installed
    finally:
        sender.install(previous)
        installed.shutdown()


class SlowApi:
    """Africa's Talking's SMS endpoint answering after ROUND_TRIP; notes how many requests overlapped."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        answers: dict[str, list[tuple[int, dict[str, Any]]]],
        gate: threading.Event | None = None,
    ) -> None:
        self.answers = answers
        # When given, every answer waits until the gate opens (instead of ROUND_TRIP).
        self.gate = gate
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.to: list[str] = []
        mock.add_callback(responses.POST, AT_SMS_URL, callback=self.answer, content_type="application/json")

    def answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        import json

        to = parse_qs(request.body)["to"][0]
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.to.append(to)
            queue = self.answers.get(to) or [(201, at_answer(to))]
            status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if self.gate is not None:
            self.gate.wait(10)
        else:
            time.sleep(ROUND_TRIP)
        with self.lock:
            self.in_flight -= 1
        return status, {}, json.dumps(body)


@pytest.fixture
def at() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _status(rt, phone: str) -> str:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return str(session.scalars(select(Message.status).where(Message.to == phone)).one())


def test_a_referrals_alerts_go_out_side_by_side_and_the_routing_job_does_not_wait(rt, at, pool):
    register_officers(rt, TWO_ON_DUTY)
    answered = threading.Event()
    api = SlowApi(at, {}, gate=answered)
    for report_id in [make_report(rt)[0] for _ in range(3)]:
        jobs.route_report(report_id)
    # The jobs are done while the SMS API has answered nothing yet: they did not wait for it.
    with rt.db.reading() as session:
        assert "sent" not in session.scalars(select(Message.status)).all()
    answered.set()
    assert pool.drain(timeout=10)
    assert sorted(api.to) == sorted([SOCIAL_WORKER, PSYCHOLOGIST] * 3)  # one request per message
    assert api.most_in_flight >= 2
    with rt.db.reading() as session:
        statuses = session.scalars(select(Message.status)).all()
    assert statuses == ["sent"] * 6


def test_on_the_pool_a_message_is_sent_once_however_many_senders_try(rt, at, pool, run_jobs):
    register_officers(rt, TWO_ON_DUTY)
    api = SlowApi(at, {})
    sender.install(None)
    jobs.route_report(make_report(rt)[0])  # sent by the job itself
    sender.install(pool)
    with rt.db.reading() as session:
        ids = session.scalars(select(Message.id)).all()
    jobs.send_now(rt, ids * 3)  # three more senders of each, side by side
    assert pool.drain(timeout=10)
    for message_id in ids:
        rt.enqueue(jobs.send_sms, message_id, job_id=f"sms-{message_id}")
    run_jobs()
    assert sorted(api.to) == sorted([SOCIAL_WORKER, PSYCHOLOGIST])


def test_on_the_pool_a_refused_alert_still_moves_to_the_next_contact(rt, at, pool):
    register_officers(rt, WITH_BACKUP)
    api = SlowApi(at, {SOCIAL_WORKER: [(201, at_answer(SOCIAL_WORKER, code=403, status="InvalidPhoneNumber"))]})
    jobs.route_report(make_report(rt)[0])
    assert pool.drain(timeout=10)
    assert api.to == [SOCIAL_WORKER, OFF_DUTY]
    assert (_status(rt, SOCIAL_WORKER), _status(rt, OFF_DUTY)) == ("failed", "sent")


def test_on_the_pool_an_alert_the_provider_cannot_take_now_waits_for_its_retry(rt, at, pool):
    register_officers(rt, TWO_ON_DUTY)
    SlowApi(at, {SOCIAL_WORKER: [(500, {"error": "down"})]})
    jobs.route_report(make_report(rt)[0])
    assert pool.drain(timeout=10)
    assert (_status(rt, SOCIAL_WORKER), _status(rt, PSYCHOLOGIST)) == ("retrying", "sent")
    with rt.db.reading() as session:
        message_id = session.scalars(select(Message.id).where(Message.to == SOCIAL_WORKER)).one()
    assert rt.sending_queue.scheduled_job_registry.get_job_ids() == [f"sms-{message_id}"]


def test_stopping_the_pool_sends_every_message_handed_over_first(rt, at):
    register_officers(rt, TWO_ON_DUTY)
    api = SlowApi(at, {})
    pool = sender.BackgroundSender(threads=1)
    previous = sender.install(pool)
    try:
        jobs.route_report(make_report(rt)[0])
    finally:
        sender.install(previous)
        pool.shutdown()
    assert sorted(api.to) == sorted([SOCIAL_WORKER, PSYCHOLOGIST])
    assert (_status(rt, SOCIAL_WORKER), _status(rt, PSYCHOLOGIST)) == ("sent", "sent")


def test_a_sender_threads_requests_reuse_one_connection_to_the_sms_api():
    stub = SmsStub().start()
    try:
        sms = AfricasTalkingSms("ijwi-bench", "key", "IJWI", base_url=stub.url)
        results = [sms.send("+250788000111", f"Ijwi {n}") for n in range(3)]
        elsewhere: list[object] = []
        thread = threading.Thread(target=lambda: elsewhere.append(sms.send("+250788000222", "Ijwi 4")))
        thread.start()
        thread.join()
        connections = stub.connections()
    finally:
        stub.stop()
    assert [r.outcome for r in results] == [ACCEPTED] * 3 and len(elsewhere) == 1
    assert connections == 2  # one for this thread's three requests, one for the other thread


def test_a_referrals_alerts_are_claimed_when_it_is_routed_and_no_other_sender_takes_them(rt, at, pool):
    register_officers(rt, TWO_ON_DUTY)
    answered = threading.Event()
    api = SlowApi(at, {}, gate=answered)
    jobs.route_report(make_report(rt)[0])
    with rt.db.reading() as session:
        rows = session.execute(select(Message.id, Message.status, Message.attempts)).all()
    # Claimed in the routing's own transaction: "sending", one attempt, before any request.
    assert [(status, attempts) for _, status, attempts in rows] == [("sending", 1)] * 2
    assert all(jobs.send_sms(message_id).startswith("not sendable") for message_id, _, _ in rows)
    answered.set()
    assert pool.drain(timeout=10)
    assert sorted(api.to) == sorted([SOCIAL_WORKER, PSYCHOLOGIST])  # one request per message
    assert (_status(rt, SOCIAL_WORKER), _status(rt, PSYCHOLOGIST)) == ("sent", "sent")


def _claimed_long_ago(rt, seconds: float) -> outbox.Claimed:  # type: ignore[no-untyped-def]
    """The alert of a routed referral, as claimed `seconds` ago and never sent (its sender waited)."""
    sender.install(None)
    with rt.db.transaction() as session:
        report = session.get_one(Report, make_report(rt)[0])
        referral = lifecycle.open_from_report(rt, session, report)
        outbox.claim_as_written(session, utcnow() - timedelta(seconds=seconds))
        lifecycle.route(rt, session, referral, utcnow())
    (claimed,) = outbox.claimed_in(session)
    return claimed


def test_an_alert_that_waited_long_for_a_sender_is_sent_once_its_claim_is_renewed(rt, at):
    register_officers(rt, WITH_BACKUP)
    api = SlowApi(at, {})
    claimed = _claimed_long_ago(rt, outbox.STALLED_AFTER * 0.75)
    jobs.send_claimed(rt, [claimed])
    assert api.to == [SOCIAL_WORKER]
    assert _status(rt, SOCIAL_WORKER) == "sent"


def test_an_alert_whose_claim_went_stale_and_was_taken_by_another_sender_is_not_sent_twice(rt, at):
    register_officers(rt, WITH_BACKUP)
    api = SlowApi(at, {})
    claimed = _claimed_long_ago(rt, outbox.STALLED_AFTER + 5)
    assert jobs.sweep()["messages"] == 1  # the sweeper gives it to a send job, which sends it
    jobs.send_sms(claimed.id)
    jobs.send_claimed(rt, [claimed])  # the first sender comes to it at last
    assert api.to == [SOCIAL_WORKER]
    with rt.db.reading() as session:
        assert session.scalars(select(Message.attempts)).one() == 2


def test_alerts_answered_while_a_record_is_written_are_recorded_together(rt, at, pool, monkeypatch):
    register_officers(rt, TWO_ON_DUTY)
    answered = threading.Event()
    SlowApi(at, {}, gate=answered)
    batches: list[list[str]] = []
    write = outbox.record_sent

    def slow_first_write(session, sent):  # type: ignore[no-untyped-def]
        batches.append([claimed.to for claimed, _, _ in sent])
        if len(batches) == 1:
            time.sleep(0.3)  # the other answers come while this one is written
        write(session, sent)

    monkeypatch.setattr(outbox, "record_sent", slow_first_write)
    reports = [make_report(rt)[0] for _ in range(2)]
    for report_id in reports:
        jobs.route_report(report_id)
    answered.set()  # the four requests in flight are answered at once
    assert pool.drain(timeout=10)
    assert sorted(sum(batches, [])) == sorted([SOCIAL_WORKER, PSYCHOLOGIST] * 2)  # each recorded once
    assert len(batches) < 4  # in fewer transactions than messages: the first, then the rest together
    with rt.db.reading() as session:
        rows = session.execute(select(Message.status, Message.provider_message_id, Message.sent_at)).all()
        sent_lines = session.scalars(select(Event.referral_id).where(Event.kind == EventKind.SENT)).all()
    assert [status for status, _, _ in rows] == ["sent"] * 4
    assert all(provider_id and sent_at for _, provider_id, sent_at in rows)
    assert sorted(Counter(sent_lines).values()) == [2, 2]  # each case's timeline: both alerts sent


def test_a_record_that_cannot_be_written_keeps_none_of_the_others_from_being_written(rt, at, monkeypatch, caplog):
    register_officers(rt, TWO_ON_DUTY)
    SlowApi(at, {})
    write = outbox.record_sent

    def refuse_the_psychologists(session, sent):  # type: ignore[no-untyped-def]
        if any(claimed.to == PSYCHOLOGIST for claimed, _, _ in sent):
            raise RuntimeError("database refused the record")
        write(session, sent)

    monkeypatch.setattr(outbox, "record_sent", refuse_the_psychologists)
    sender.install(None)
    with rt.db.transaction() as session:
        referral = lifecycle.open_from_report(rt, session, session.get_one(Report, make_report(rt)[0]))
        outbox.claim_as_written(session, utcnow())
        lifecycle.route(rt, session, referral, utcnow())
    claimed = outbox.claimed_in(session)
    results = [rt.sms.send(c.to, c.body) for c in claimed]
    jobs._record_accepted([jobs._Accepted(rt, c, r, utcnow()) for c, r in zip(claimed, results, strict=True)])
    # The two together failed; then each alone: the social worker's is written, the other stays
    # "sending" (stalled later, then queued again by the sweeper) and the failure is logged.
    assert (_status(rt, SOCIAL_WORKER), _status(rt, PSYCHOLOGIST)) == ("sent", "sending")
    assert "recording 1 sent message(s) failed" in caplog.text


def test_a_group_writer_writes_what_comes_while_it_writes_in_the_next_batch_and_recovers_from_a_failure():
    batches: list[list[int]] = []
    writing = threading.Event()
    go_on = threading.Event()

    def write(batch: list[int]) -> None:
        batches.append(batch)
        if batch == [1]:
            writing.set()
            go_on.wait(5)
        if batch == [9]:
            raise RuntimeError("broken")

    writer = sender.GroupWriter(write)
    first = threading.Thread(target=writer.add, args=(1,))
    first.start()
    assert writing.wait(5)
    for item in (2, 3, 4):
        writer.add(item)  # returns at once: the first thread writes these next
    assert batches == [[1]]
    go_on.set()
    first.join(5)
    assert batches == [[1], [2, 3, 4]]
    with pytest.raises(RuntimeError):
        writer.add(9)
    writer.add(10)  # a failed write does not leave the writer thinking it is still writing
    assert batches[-1] == [10]
