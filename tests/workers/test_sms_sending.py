"""Sending alerts through Africa's Talking's SDK: what is posted, retries, no retries, sweeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from sqlalchemy import select, update

from gateway.clock import utcnow
from gateway.models import Assignment, Event, Message, Referral
from tests.helpers import (
    AT_SMS_URL,
    NATIONAL_DESK,
    OFF_DUTY,
    SOCIAL_WORKER,
    at_answer,
    at_sample,
    make_report,
    register_officers,
    release_retries,
)
from workers import jobs

HEADER = "name,phone,role,district,sector,on_duty,language\n"
ONE_OFFICER = HEADER + f"Only Officer,{SOCIAL_WORKER},social_worker,Nyarugenge,,yes,en\n"
WITH_BACKUP = ONE_OFFICER + f"Backup Officer,{OFF_DUTY},social_worker,Nyarugenge,,no,en\n"
WITH_DESK = ONE_OFFICER + f"National Desk,{NATIONAL_DESK},national_desk,,,yes,en\n"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return replace(settings, sms_backend="africastalking")


@pytest.fixture
def at():  # type: ignore[no-untyped-def]
    """Africa's Talking's SMS endpoint, played by responses (nothing else may be reached)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _answer(at, *answers) -> None:  # type: ignore[no-untyped-def]
    """Register the endpoint's answers, in order (the last one repeats)."""
    for answer in answers:
        if isinstance(answer, Exception):
            at.add(responses.POST, AT_SMS_URL, body=answer)
        elif isinstance(answer, tuple):
            status, body = answer
            at.add(responses.POST, AT_SMS_URL, body=body, status=status, content_type="text/plain")
        else:
            at.add(responses.POST, AT_SMS_URL, json=answer, status=201)


def _sent_to(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [parse_qs(call.request.body)["to"][0] for call in at.calls]


def _alert(rt, phone: str = SOCIAL_WORKER) -> Message:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.scalars(select(Message).where(Message.to == phone).order_by(Message.id)).first()


def _age_messages(rt) -> None:  # type: ignore[no-untyped-def]
    """Ten minutes went by since the messages last changed."""
    with rt.db.transaction() as session:
        session.execute(update(Message).values(updated_at=utcnow() - timedelta(minutes=10)))


def test_alert_is_posted_with_username_to_message_and_from(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, at_sample("sms_send_success")["body"])
    report_id, ref = make_report(rt, urgent=True)
    jobs.route_report(report_id)
    run_jobs()

    assert len(at.calls) == 1
    request = at.calls[0].request
    assert request.url == AT_SMS_URL
    assert request.headers["apiKey"] == "test-api-key"
    form = parse_qs(request.body)
    message = _alert(rt)
    assert form == {
        "username": ["sandbox"],
        "to": [SOCIAL_WORKER],
        "message": [message.body],
        "from": ["IJWI"],
        "bulkSMSMode": ["1"],
    }
    assert form["message"][0].startswith(f"Ijwi URGENT case {ref}: Neglect, girl aged 12-17")
    assert message.status == "sent" and message.attempts == 1 and message.sent_at is not None
    assert message.provider_message_id == "ATXid_3f1c2b9a7e6d4c0b8a5f1e2d3c4b5a69"
    assert (message.cost, message.provider_status) == ("RWF 15.0000", "Success")
    with rt.db.reading() as session:
        kinds = session.scalars(select(Event.kind).where(Event.referral_id == message.referral_id)).all()
    assert kinds == ["created", "routed", "sent"]


def test_alerts_go_out_during_the_routing_job_with_no_send_job_left(rt, at, run_jobs):
    register_officers(rt, WITH_DESK)
    _answer(at, at_answer(SOCIAL_WORKER))
    report_id, ref = make_report(rt)
    rt.enqueue(jobs.route_report, report_id, job_id=f"route-report-{report_id}")
    run_jobs()
    assert _sent_to(at) == [SOCIAL_WORKER]
    assert _alert(rt).status == "sent"
    assert rt.queue.count == 0 and rt.queue.scheduled_job_registry.count == 0


def test_alert_the_provider_cannot_take_now_waits_for_its_first_backoff_interval(rt, at, run_jobs):
    from rq.job import Job

    register_officers(rt, ONE_OFFICER)
    _answer(at, (500, "Internal Server Error"))
    jobs.route_report(make_report(rt)[0])
    message = _alert(rt)
    assert (message.status, message.attempts) == ("retrying", 1)
    assert rt.queue.count == 0
    run_jobs()
    assert len(at.calls) == 1  # not run at once

    # Every attempt waits its interval: 15 s, 60 s, 5 min, 15 min, 30 min, then RQ gives up.
    waits = []
    registry = rt.queue.scheduled_job_registry
    while registry.count:
        (job_id,) = registry.get_job_ids()
        assert job_id == f"sms-{message.id}"
        assert Job.fetch(job_id, connection=rt.rq_redis).func_name == "workers.jobs.send_sms"
        waits.append((registry.get_scheduled_time(job_id) - utcnow()).total_seconds())
        release_retries(rt)
        run_jobs()
    assert len(waits) == 5
    assert all(want - 5 < wait <= want for wait, want in zip(waits, [15, 60, 300, 900, 1800], strict=True))
    assert (_alert(rt).status, _alert(rt).attempts, len(at.calls)) == ("retrying", 6, 6)


def test_exception_while_sending_in_the_routing_job_leaves_the_alert_to_the_sweeper(rt, at, run_jobs, monkeypatch):
    register_officers(rt, ONE_OFFICER)
    _answer(at, at_answer(SOCIAL_WORKER))

    def broken(to: str, body: str) -> None:
        raise ValueError("a bug in the SDK")

    monkeypatch.setattr(rt.sms, "send", broken)
    report_id, ref = make_report(rt)
    assert jobs.route_report(report_id) is not None  # the routing stays
    monkeypatch.undo()
    with rt.db.reading() as session:
        assert session.scalar(select(Referral.status).where(Referral.reference == ref)) == "routed"
    assert _alert(rt).status == "sending"
    run_jobs()
    assert len(at.calls) == 0
    assert jobs.sweep()["messages"] == 0  # perhaps still being sent
    _age_messages(rt)
    assert jobs.sweep()["messages"] == 1
    run_jobs()
    assert _alert(rt).status == "sent"
    assert len(at.calls) == 1


def test_send_job_run_twice_posts_one_request_per_referral(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, at_answer(SOCIAL_WORKER))
    report_id, _ = make_report(rt)
    jobs.route_report(report_id)
    jobs.route_report(report_id)  # the routing job ran twice too
    run_jobs()
    message = _alert(rt)
    assert jobs.send_sms(message.id).startswith("not sendable")
    jobs.send_now(rt, [message.id])
    rt.enqueue(jobs.send_sms, message.id, job_id=f"sms-{message.id}")
    run_jobs()
    assert len(at.calls) == 1
    assert rt.queue.scheduled_job_registry.count == 0
    assert _alert(rt).attempts == 1


def test_answer_whose_content_type_is_not_exactly_json_is_still_read(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    import json

    at.add(
        responses.POST,
        AT_SMS_URL,
        body=json.dumps(at_answer(SOCIAL_WORKER, message_id="ATXid_charset")),
        status=201,
        content_type="application/json; charset=utf-8",
    )
    jobs.route_report(make_report(rt)[0])
    run_jobs()
    message = _alert(rt)
    assert (message.status, message.provider_message_id) == ("sent", "ATXid_charset")


@pytest.mark.parametrize(
    "failure",
    [
        (500, "Internal Server Error"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ConnectionError("connection refused"),
        at_answer(SOCIAL_WORKER, code=500, status="InternalServerError"),
        at_answer(SOCIAL_WORKER, code=502, status="RejectedByGateway"),
    ],
    ids=["http-500", "read-timeout", "connect-timeout", "connection-error", "recipient-500", "recipient-502"],
)
def test_what_is_worth_retrying_is_retried_with_backoff_then_sent(rt, at, run_jobs, failure):
    register_officers(rt, ONE_OFFICER)
    _answer(at, failure, at_answer(SOCIAL_WORKER))
    jobs.route_report(make_report(rt)[0])
    run_jobs()

    message = _alert(rt)
    assert (message.status, message.attempts) == ("retrying", 1)
    assert message.error
    assert len(at.calls) == 1
    assert release_retries(rt) == 1  # RQ's scheduler holds the retry for its backoff
    run_jobs()
    message = _alert(rt)
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(at.calls) == 2


@pytest.mark.parametrize(
    "code,status",
    [(403, "InvalidPhoneNumber"), (404, "UnsupportedNumberType"), (406, "UserInBlacklist"), (409, "DoNotDisturb")],
)
def test_what_is_not_worth_retrying_fails_at_once_and_moves_to_the_next_contact(rt, at, run_jobs, code, status):
    register_officers(rt, WITH_BACKUP)
    _answer(at, at_answer(SOCIAL_WORKER, code=code, status=status), at_answer(OFF_DUTY))
    jobs.route_report(make_report(rt)[0])
    run_jobs()

    failed = _alert(rt, SOCIAL_WORKER)
    assert (failed.status, failed.attempts, failed.provider_status) == ("failed", 1, status)
    assert release_retries(rt) == 0
    assert _sent_to(at) == [SOCIAL_WORKER, OFF_DUTY]
    assert _alert(rt, OFF_DUTY).status == "sent"
    with rt.db.reading() as session:
        reason = session.scalar(
            select(Assignment.reason).where(Assignment.officer_id == _alert(rt, OFF_DUTY).officer_id)
        )
        assert reason == f"failover:{failed.id}"
        events = session.scalars(select(Event.kind).where(Event.referral_id == failed.referral_id)).all()
        assert events == ["created", "routed", "failed", "routed", "sent"]


def test_out_of_credit_tells_the_national_desk_once_and_sends_the_alert_after_a_top_up(rt, at, run_jobs):
    register_officers(rt, WITH_DESK)
    _answer(at, at_sample("sms_send_insufficient_balance")["body"], at_answer(NATIONAL_DESK), at_answer(SOCIAL_WORKER))
    jobs.route_report(make_report(rt)[0])
    run_jobs()

    assert _alert(rt).status == "retrying"
    notice = _alert(rt, NATIONAL_DESK)
    assert notice.kind == "notice" and notice.status == "sent"
    assert notice.body == "Ijwi: the SMS account is out of credit. Alerts are waiting to be sent. Please top it up now."
    release_retries(rt)
    run_jobs()
    assert _alert(rt).status == "sent"

    at.replace(responses.POST, AT_SMS_URL, json=at_sample("sms_send_insufficient_balance")["body"], status=201)
    jobs.route_report(make_report(rt)[0])
    run_jobs()
    with rt.db.reading() as session:
        notices = session.scalars(select(Message).where(Message.kind == "notice")).all()
    assert len(notices) == 1  # at most one an hour


def test_alert_is_sent_after_a_provider_outage_longer_than_the_retries(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, (503, "Service Unavailable"))
    jobs.route_report(make_report(rt)[0])
    run_jobs()
    while release_retries(rt):
        run_jobs()
    message = _alert(rt)
    assert (message.status, message.attempts) == ("retrying", 6)  # RQ gave up: 1 + 5 retries

    at.replace(responses.POST, AT_SMS_URL, json=at_answer(SOCIAL_WORKER), status=201)
    assert jobs.sweep()["messages"] == 0  # too early: the sweeper waits after a last attempt
    assert jobs.sweep(now=utcnow() + timedelta(minutes=16))["messages"] == 1
    run_jobs()
    message = _alert(rt)
    assert (message.status, message.attempts) == ("sent", 7)


def test_sweep_sends_a_message_whose_worker_died_while_sending(rt, at, run_jobs, monkeypatch):
    register_officers(rt, ONE_OFFICER)
    _answer(at, at_answer(SOCIAL_WORKER))

    def die(to: str, body: str) -> None:
        raise SystemExit("the worker is killed while sending")

    monkeypatch.setattr(rt.sms, "send", die)
    with pytest.raises(SystemExit):
        jobs.route_report(make_report(rt)[0])
    monkeypatch.undo()
    assert _alert(rt).status == "sending"
    rt.redis.flushdb()  # the queue is lost too
    assert jobs.sweep()["messages"] == 0  # perhaps still being sent
    _age_messages(rt)
    assert jobs.sweep()["messages"] == 1
    run_jobs()
    assert _alert(rt).status == "sent"
    assert len(at.calls) == 1


def test_sweep_leaves_a_message_whose_job_is_waiting_alone(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, (500, "Internal Server Error"), at_answer(SOCIAL_WORKER))
    jobs.route_report(make_report(rt)[0])
    # Retrying for long enough to be swept, but its job is still scheduled: not queued twice.
    assert jobs.sweep(now=utcnow() + timedelta(minutes=16))["messages"] == 1
    assert release_retries(rt) == 1
    run_jobs()
    assert (_alert(rt).status, _alert(rt).attempts) == ("sent", 2)
    assert len(at.calls) == 2


def test_report_stored_while_redis_was_down_gets_its_alert(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, at_answer(SOCIAL_WORKER))
    report_id, ref = make_report(rt)  # stored; its routing job never queued
    assert jobs.sweep(now=utcnow() + timedelta(minutes=2))["reports"] == 1
    run_jobs()
    assert _sent_to(at) == [SOCIAL_WORKER]
    with rt.db.reading() as session:
        assert session.scalar(select(Referral.status).where(Referral.reference == ref)) == "routed"


def test_alert_waiting_for_a_retry_is_not_sent_once_the_case_is_acknowledged(rt, at, run_jobs):
    register_officers(rt, ONE_OFFICER)
    _answer(at, (500, "Internal Server Error"), at_answer(SOCIAL_WORKER))
    jobs.route_report(make_report(rt)[0])
    run_jobs()
    assert _alert(rt).status == "retrying"
    with rt.db.transaction() as session:
        session.execute(update(Referral).values(status="acknowledged"))
    release_retries(rt)
    run_jobs()
    message = _alert(rt)
    assert (message.status, message.error) == ("cancelled", "case already acknowledged")
    assert len(at.calls) == 1
