"""Closed by default, nothing leaked: what an attacker and an outage found, each closed."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import replace

import pytest
from sqlalchemy import delete, func, select

from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from gateway.db import Database
from gateway.models import Message, ProviderCallback, Report, UssdSessionEnd
from gateway.redis_conn import embedded_url
from gateway.ussd import notices
from menus.reference import check_digit
from tests.helpers import (
    COMMUNITY_PHONE,
    SOCIAL_WORKER,
    VOLUNTEER_PHONE,
    Dial,
    at_sample,
    make_report,
    reference_in,
    register_officers,
    register_volunteer,
)

# --- webhooks fail closed -------------------------------------------------------------


def test_the_app_refuses_to_start_without_a_webhook_token_outside_development(settings):
    with pytest.raises(ConfigError, match="^WEBHOOK_TOKEN is not set"):
        create_app(replace(settings, webhook_token="", dev_mode=False))
    create_app(replace(settings, webhook_token="s3cret", dev_mode=False))
    create_app(replace(settings, webhook_token="", dev_mode=True))


def test_wsgi_says_so_in_one_line(monkeypatch, settings):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_TOKEN", "IJWI_DEV")}
    env.update(SECRET_KEY="x", ENCRYPTION_KEY=settings.encryption_key, DATABASE_URL=settings.database_url)
    env["REDIS_URL"] = settings.redis_url
    done = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("ijwi: cannot start: WEBHOOK_TOKEN is not set")


def test_without_a_token_the_webhooks_refuse_requests_wherever_the_start_check_did_not_run(app, rt):
    rt.settings = replace(rt.settings, webhook_token="", dev_mode=False)  # e.g. a development server
    client = app.test_client()
    assert client.post("/ussd", data={"sessionId": "s", "phoneNumber": COMMUNITY_PHONE}).status_code == 403
    assert client.post("/sms/inbound", data={"id": "a", "from": SOCIAL_WORKER, "text": "OK 1"}).status_code == 403


def test_ijwi_dev_is_the_development_mode_setting():
    base = {"SECRET_KEY": "x", "ENCRYPTION_KEY": "k" * 43 + "="}
    assert load_settings({**base, "IJWI_DEV": "1"}).dev_mode
    assert not load_settings(base).dev_mode


def test_only_allowed_source_addresses_may_call_the_webhooks(app_with):
    app = app_with(webhook_allowed_ips="10.0.0.0/8, 192.0.2.7")
    client = app.test_client()
    form = {"sessionId": "ATUid_ip", "phoneNumber": COMMUNITY_PHONE, "text": ""}
    assert client.post("/ussd", data=form, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    assert client.post("/sms/inbound", data={"id": "a"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    ok = client.post("/ussd", data=form, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.get_data(as_text=True).startswith("CON ")
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOWED_IPS"):
        load_settings({"SECRET_KEY": "x", "ENCRYPTION_KEY": "k" * 43 + "=", "WEBHOOK_ALLOWED_IPS": "nope"})


# --- delivery reports -----------------------------------------------------------------


@pytest.fixture
def sent_alert(rt, run_jobs) -> Message:  # type: ignore[no-untyped-def]
    from workers import jobs

    register_officers(rt)
    report_id, _ = make_report(rt)
    jobs.route_report(report_id)
    with rt.db.reading() as session:
        return session.scalars(select(Message).where(Message.to == SOCIAL_WORKER, Message.kind == "alert")).one()


def _deliver(client, message: Message, status: str, phone: str, reason: str = ""):  # type: ignore[no-untyped-def]
    form = at_sample("sms_delivery_failed")
    form.update(id=message.provider_message_id, status=status, phoneNumber=phone, failureReason=reason)
    return client.post("/sms/delivery", data=form)


def _status(rt, message_id: int) -> str:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return session.get_one(Message, message_id).status


def test_a_delivery_report_for_another_phone_moves_nothing(client, rt, sent_alert):
    with rt.db.reading() as session:
        alerts = session.scalar(select(func.count(Message.id)).where(Message.kind == "alert"))
    assert _deliver(client, sent_alert, "Failed", "+250788999888", "AbsentSubscriber").status_code == 200
    assert _status(rt, sent_alert.id) == "sent"
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Message.id)).where(Message.kind == "alert")) == alerts  # no failover
    # The real report with the same status is still taken.
    _deliver(client, sent_alert, "Failed", SOCIAL_WORKER, "AbsentSubscriber")
    assert _status(rt, sent_alert.id) == "failed"


def test_a_later_final_delivery_report_corrects_an_earlier_one(client, rt, sent_alert):
    _deliver(client, sent_alert, "Failed", SOCIAL_WORKER, "AbsentSubscriber")
    assert _status(rt, sent_alert.id) == "failed"
    _deliver(client, sent_alert, "Success", SOCIAL_WORKER)
    assert _status(rt, sent_alert.id) == "delivered"
    _deliver(client, sent_alert, "Buffered", SOCIAL_WORKER)
    assert _status(rt, sent_alert.id) == "delivered"


# --- rate limits ----------------------------------------------------------------------


def _report(client, phone: str) -> str:  # type: ignore[no-untyped-def]
    dial = Dial(client, phone)
    return dial.send("1", "1", "1", "3", "1", "1", "1", "1") if phone == VOLUNTEER_PHONE else _community(dial)


def _community(dial: Dial) -> str:
    dial.send("1", "2", "2", "2", "2", "1", "1", "1", "1")  # neglect, not urgent, 5-11, boy, first places
    return dial.send("1", "2", "1")  # no words, anonymous, send


def test_an_unknown_phone_files_five_reports_an_hour_then_gets_a_polite_end(client, rt):
    screens = [_report(client, COMMUNITY_PHONE) for _ in range(6)]
    assert all(reference_in(s) for s in screens[:5])
    assert screens[5] == notices.notice("too_many_reports", "rw")
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 5


def test_a_volunteer_may_file_more_and_the_limit_is_a_setting(app_with):
    app = app_with(reports_per_hour_volunteer=7)
    rt, client = app.extensions["ijwi"], app.test_client()
    register_volunteer(rt)
    screens = [_report(client, VOLUNTEER_PHONE) for _ in range(8)]
    assert all(s.startswith("END ") and "Reference" in s for s in screens[:7])
    assert screens[7] == notices.notice("too_many_reports", "en")


def test_look_ups_are_limited_per_phone(app_with):
    app = app_with(lookups_per_hour=3)
    client = app.test_client()
    reference = "100000" + check_digit("100000")
    answers = []
    for _ in range(4):
        dial = Dial(client, COMMUNITY_PHONE)
        dial.send("2")
        answers.append(dial.send(reference))
    assert all(reference in a for a in answers[:3])
    assert answers[3] == notices.notice("too_many_lookups", "rw")


def test_limits_are_shared_by_every_process(app, app_with):
    other = app_with()  # another process of the same fleet: the same Redis
    clients = [app.test_client()] * 3 + [other.test_client()] * 2
    assert all(reference_in(_report(c, COMMUNITY_PHONE)) for c in clients)
    assert _report(other.test_client(), COMMUNITY_PHONE) == notices.notice("too_many_reports", "rw")


def _sms(client, phone: str, text: str, n: int):  # type: ignore[no-untyped-def]
    return client.post("/sms/inbound", data={"id": f"in-{phone}-{n}", "from": phone, "text": text})


def _messages_to(rt, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    with rt.db.reading() as session:
        return list(session.scalars(select(Message.kind).where(Message.to == phone)))


def test_officer_commands_and_help_texts_are_limited(app_with):
    app = app_with(commands_per_hour=4)
    rt, client = app.extensions["ijwi"], app.test_client()
    register_officers(rt)
    for n in range(3):
        _sms(client, SOCIAL_WORKER, "hello?", n)  # help text: one an hour
    assert _messages_to(rt, SOCIAL_WORKER) == ["help"]
    for n in range(3, 8):
        _sms(client, SOCIAL_WORKER, "INFO 1000007", n)
    # The 4th command was the last; the 5th and later get one "slow down" SMS in all.
    assert _messages_to(rt, SOCIAL_WORKER) == ["help", "help", "help"]


def test_strangers_get_one_acknowledgement_an_hour_and_none_abroad(client, rt):
    for n in range(3):
        _sms(client, "+250788111222", f"a child alone at the market {n}", n)
        _sms(client, "+254712345678", f"a child alone at the market {n}", n)  # Kenya
    assert _sent_to(rt, "+250788111222") == ["reply"]
    assert _sent_to(rt, "+254712345678") == []
    with rt.db.reading() as session:  # the concerns themselves are kept for triage
        assert session.scalar(select(func.count(Report.id))) == 6


def test_sms_reports_of_one_phone_are_limited_too(client, rt):
    for n in range(7):
        _sms(client, "+250788111222", f"concern number {n}", n)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 5
    assert _sent_to(rt, "+250788111222") == ["reply", "help"]  # one acknowledgement, one "slow down"


def _sent_to(rt, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The kinds of the messages to a phone that are not cancelled (to be sent)."""
    with rt.db.reading() as session:
        return list(
            session.scalars(
                select(Message.kind).where(Message.to == phone, Message.status != "cancelled").order_by(Message.id)
            )
        )


# --- USSD sessions --------------------------------------------------------------------


def test_two_sessions_of_one_phone_at_once_each_file_their_own_answers(client, rt):
    first, second = Dial(client, COMMUNITY_PHONE), None
    first.send("1", "1")  # violence, then the urgency question: a draft exists
    second = Dial(client, COMMUNITY_PHONE)
    assert second.screen.startswith("CON Ijwi - Kurinda umwana")  # not offered the other's draft
    second.send("1", "3")  # child labour
    for dial, urgent in ((first, "1"), (second, "2")):
        dial.send(urgent, "2", "2", "1", "1", "1", "1")
    for dial in (first, second):
        dial.send("1", "2")
    ends = [first.send("1"), second.send("1")]
    with rt.db.reading() as session:
        filed = {r.reference: (r.session_id, r.category, r.urgent) for r in session.scalars(select(Report))}
    assert filed == {
        reference_in(ends[0]): (first.session_id, "violence", True),
        reference_in(ends[1]): (second.session_id, "labour", False),
    }


def test_another_phone_reusing_a_session_id_can_neither_read_nor_move_it(client, rt):
    dial = Dial(client, COMMUNITY_PHONE)
    confirm = _community_until_confirm(dial)
    intruder = {"sessionId": dial.session_id, "phoneNumber": "+250788999000", "text": dial.text}
    answer = client.post("/ussd", data=intruder).get_data(as_text=True)
    assert answer == notices.notice("bad_request") and "Reference" not in answer and confirm not in answer
    client.post("/ussd", data={**intruder, "text": dial.text + "*1"})
    client.post("/ussd/events", data={"sessionId": dial.session_id, "phoneNumber": "+250788999000", "status": "Failed"})
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Report.id))) == 0
    assert reference_in(dial.send("1"))  # the caller's own session goes on


def _community_until_confirm(dial: Dial) -> str:
    dial.send("1", "2", "2", "2", "2", "1", "1", "1", "1")
    return dial.send("1", "2")


@pytest.mark.parametrize("hops", ["2147483648", "99999999999999999999", "-1", "1e9", "½"])
def test_numbers_read_from_a_webhook_are_bounded(client, rt, hops):
    form = {"sessionId": "ATUid_n", "phoneNumber": COMMUNITY_PHONE, "status": "Success"}
    response = client.post("/ussd/events", data={**form, "hopsCount": hops, "durationInMillis": hops})
    assert response.status_code == 200
    with rt.db.reading() as session:
        row = session.scalars(select(UssdSessionEnd)).one()
        assert row.hops is None and row.duration_ms is None


# --- leaks ----------------------------------------------------------------------------


def test_an_id_with_a_newline_cannot_forge_a_log_line(client, rt, caplog):
    caplog.set_level(logging.INFO)
    forged = "abc\n2026-12-01 INFO gateway: case closed by admin"
    assert client.post("/sms/inbound", data={"id": forged, "from": SOCIAL_WORKER, "text": "x"}).status_code == 400
    assert (
        client.post("/ussd", data={"sessionId": forged, "phoneNumber": COMMUNITY_PHONE})
        .get_data(as_text=True)
        .startswith("END ")
    )
    assert "case closed by admin" not in caplog.text
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(ProviderCallback.id))) == 0


def test_sql_errors_never_show_their_parameters(rt):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as failure, rt.db.transaction() as session:
        for _ in range(2):
            session.add(UssdSessionEnd(session_id="dup", phone_hash="+250788123456", status=""))
            session.flush()
    assert "+250788123456" not in str(failure.value)


def test_the_sqlite_file_and_the_embedded_redis_are_private(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'private' / 'ijwi.db'}")
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x)")
    assert stat.S_IMODE(os.stat(tmp_path / "private" / "ijwi.db").st_mode) == 0o600
    import redis

    url = embedded_url(str(tmp_path / "r" / "redis.db"))
    client = redis.Redis.from_url(url)
    client.set("k", "v")
    client.save()
    assert stat.S_IMODE(os.stat(tmp_path / "r").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "r" / "redis.db").st_mode) & 0o077 == 0
    client.close()


# --- outages --------------------------------------------------------------------------


def test_with_the_database_gone_ussd_answers_politely_and_liveness_holds(app_with, monkeypatch):
    # Nothing listens on this port: every connection is refused at once.
    dead = app_with(database_url="postgresql+psycopg://ijwi@127.0.0.1:7199/gone")
    rt = dead.extensions["ijwi"]
    rt.menus._checked_at = 0.0  # the menu's active version is due for a database read
    client = dead.test_client()
    for n in range(5):
        hop = client.post("/ussd", data={"sessionId": f"ATUid_out{n}", "phoneNumber": f"+25078800010{n}", "text": ""})
        assert hop.status_code == 200
        assert hop.get_data(as_text=True) == "END " + rt.menus.last_active().string("session_error", "rw")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    inbound = client.post("/sms/inbound", data={"id": "x1", "from": SOCIAL_WORKER, "text": "OK 1"})
    assert inbound.status_code == 503


# --- keys -----------------------------------------------------------------------------


@pytest.fixture
def canary_of_this_run(rt):  # type: ignore[no-untyped-def]
    """The canary written with the run's key; removed after the test (a test that changed the
    key must not leave its canary to the next test's database)."""
    from gateway import canary
    from gateway.models import KeyCanary

    assert canary.check(rt) == canary.KeyCheck.OK
    yield
    with rt.db.transaction() as session:
        session.execute(delete(KeyCanary))


def test_a_wrong_encryption_key_is_refused_at_start_and_by_readiness(app, settings, canary_of_this_run):
    from cryptography.fernet import Fernet

    other = Fernet.generate_key().decode()
    with pytest.raises(ConfigError, match="^ENCRYPTION_KEY cannot decrypt"):
        create_app(replace(settings, encryption_key=other))
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY key 1 is not a Fernet key"):
        load_settings({"SECRET_KEY": "x", "ENCRYPTION_KEY": "not-a-key"})
    running = app.test_client()
    app.extensions["ijwi"].__dict__["crypto"] = replace_crypto(other, settings)  # the key changed under it
    ready = running.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["encryption_key"] == "wrong"


def replace_crypto(key: str, settings):  # type: ignore[no-untyped-def]
    from gateway.crypto import Crypto

    return Crypto(key, settings.secret_key)


def test_keys_rotate_with_a_new_first_key_and_reencrypt(app, rt, settings, app_with, canary_of_this_run):
    from cryptography.fernet import Fernet

    make_report(rt)
    old, new = settings.encryption_key, Fernet.generate_key().decode()
    rotating = app_with(encryption_key=f"{new},{old}")
    result = rotating.test_cli_runner().invoke(args=["keys", "reencrypt"])
    assert result.exit_code == 0, result.output
    assert "reports.reporter_phone_enc: 1/1" in result.output and "done" in result.output
    only_new = app_with(encryption_key=new)  # starts: the canary reads with the new key alone
    with only_new.extensions["ijwi"].db.reading() as session:
        report = session.scalars(select(Report)).one()
        assert only_new.extensions["ijwi"].crypto.decrypt(report.details_enc) == "Beaten at home, see house 12*B"
    with pytest.raises(ConfigError):
        create_app(replace(settings, encryption_key=old))


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or "").startswith("postgresql"),
    reason="PostgreSQL's lock_timeout (SQLite has its busy timeout)",
)
def test_a_locked_table_gives_the_caller_a_polite_end_within_the_lock_timeout(app_with):
    import time

    from sqlalchemy import text

    app = app_with(db_lock_timeout_ms=500)
    rt, client = app.extensions["ijwi"], app.test_client()
    dial = Dial(client, COMMUNITY_PHONE)
    _community_until_confirm(dial)
    with rt.db.engine.connect() as locker:
        locker.execute(text("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        end = dial.send("1")
        took = time.monotonic() - started
        locker.rollback()
    assert end == "END " + rt.menus.last_active().string("session_error", "rw")
    assert took < 5
