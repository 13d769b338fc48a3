"""What an operator reads: /metrics moving with what callers and officers do, and JSON log lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import responses
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gateway import limits
from gateway.clock import utcnow
from gateway.metrics import prepare_multiproc_dir
from gateway.models import Message
from tests.helpers import (
    AT_SMS_URL,
    VOLUNTEER_PHONE,
    Dial,
    at_answer,
    at_sample,
    end_session,
    make_report,
    register_officers,
    register_volunteer,
)
from workers import jobs

# A port of this machine where nothing listens (Redis "down").
CLOSED_PORT = 7409
FREE_TEXT = "Beaten at home, see house 12*B"


def scrape(client, **kwargs) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:  # type: ignore[no-untyped-def]
    """Every sample of GET /metrics, by (name, labels)."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def moved(before, after, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def _whole_report(client, rt) -> str:  # type: ignore[no-untyped-def]
    """A volunteer's report from the first hop to the END screen, with free text."""
    register_volunteer(rt)
    dial = Dial(client, VOLUNTEER_PHONE)
    dial.send("1", "2", "2", "1", "1", "1")
    dial.send(FREE_TEXT)
    end = dial.send("1")
    assert end.startswith("END Thank you"), end
    return end


def test_metrics_move_with_a_session_its_alerts_and_a_failed_delivery(client, rt, run_jobs):
    register_officers(rt)
    before = scrape(client)
    _whole_report(client, rt)
    cut_off = Dial(client, "+250788765432")
    cut_off.send("1")
    end_session(client, cut_off, status="Incomplete")
    run_jobs()  # routing: the referral and its alerts, sent (console provider: statusCode 101)
    with rt.db.reading() as session:
        alerts = session.scalars(select(Message).where(Message.kind == "alert").order_by(Message.id)).all()
    assert len(alerts) >= 2
    delivered = {"id": alerts[0].provider_message_id, "status": "Success", "phoneNumber": alerts[0].to}
    failed = at_sample("sms_delivery_failed") | {"id": alerts[1].provider_message_id, "phoneNumber": alerts[1].to}
    assert client.post("/sms/delivery", data=delivered).status_code == 200
    assert client.post("/sms/delivery", data=failed).status_code == 200
    after = scrape(client)

    assert moved(before, after, "ijwi_ussd_sessions_started_total") == 2
    assert moved(before, after, "ijwi_ussd_sessions_ended_total") == 1
    assert moved(before, after, "ijwi_ussd_sessions_dropped_total") == 1
    assert moved(before, after, "ijwi_ussd_hop_seconds_count", screen="CON") == 8 + 2
    assert moved(before, after, "ijwi_ussd_hop_seconds_count", screen="END") == 1
    assert moved(before, after, "ijwi_reports_total", channel="ussd") == 1
    assert moved(before, after, "ijwi_referrals_created_total", source="report") == 1
    assert moved(before, after, "ijwi_sms_sent_total", kind="alert", code="101") == len(alerts)
    assert moved(before, after, "ijwi_sms_delivered_total", kind="alert") == 1
    assert moved(before, after, "ijwi_sms_failed_total", kind="alert", stage="delivery", reason="Failed") == 1
    # Read at scrape time from the database and the queue.
    assert after[("ijwi_referrals", frozenset({("status", "routed")}))] == 1
    assert after[("ijwi_referrals_unacknowledged", frozenset({("older_than", "0s")}))] == 1
    assert after[("ijwi_referrals_unacknowledged", frozenset({("older_than", "15m")}))] == 0
    assert after[("ijwi_ready", frozenset({("dependency", "redis")}))] == 1
    assert ("ijwi_queue_jobs", frozenset({("state", "failed")})) in after


def test_metrics_count_refusals_out_of_credit_escalations_and_sweeps(app_with, settings):
    app = app_with(sms_backend="africastalking")
    rt = app.extensions["ijwi"]
    client = app.test_client()
    rt.redis.flushdb()
    register_officers(rt)
    before = scrape(client)
    with responses.RequestsMock() as at:
        at.add(responses.POST, AT_SMS_URL, json=at_answer(code=406, status="UserInBlacklist"), status=201)
        at.add(responses.POST, AT_SMS_URL, json=at_answer(code=405, status="InsufficientBalance"), status=201)
        report_id, _ = make_report(rt, urgent=True)
        jobs.route_report(report_id)
        assert jobs.escalate(now=utcnow() + timedelta(hours=1)) == 1
    make_report(rt)  # its routing job was lost
    assert jobs.sweep(now=utcnow() + timedelta(minutes=5))["reports"] == 1
    after = scrape(client)
    assert moved(before, after, "ijwi_sms_failed_total", kind="alert", stage="send", reason="406") == 1
    assert moved(before, after, "ijwi_sms_out_of_credit_total") >= 1
    assert moved(before, after, "ijwi_sms_retrying_total", reason="405") >= 1
    assert moved(before, after, "ijwi_escalations_total", urgency="urgent") == 1
    assert moved(before, after, "ijwi_sweeper_requeued_total", what="reports") == 1


def test_metrics_refuse_without_the_token_or_from_elsewhere(app, app_with):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # from this machine, no proxy
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "41.186.1.1"}).status_code == 403

    locked = app_with(metrics_token="m3trics", metrics_allow="").test_client()
    far = {"REMOTE_ADDR": "10.0.0.7"}
    assert locked.get("/metrics").status_code == 403
    assert locked.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert locked.get("/metrics", headers={"Authorization": "Bearer m3trics"}, environ_base=far).status_code == 200
    assert locked.get("/metrics?token=m3trics", environ_base=far).status_code == 200


def test_readiness_fails_and_metrics_say_so_when_redis_is_down(app_with):
    client = app_with(redis_url=f"redis://127.0.0.1:{CLOSED_PORT}/4").test_client()
    before = scrape(client)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "not ready", "redis": "unreachable", "database": "ok", "encryption_key": "ok"}
    after = scrape(client)
    assert after[("ijwi_ready", frozenset({("dependency", "redis")}))] == 0
    assert after[("ijwi_ready", frozenset({("dependency", "database")}))] == 1
    assert moved(before, after, "ijwi_readiness_failures_total", dependency="redis") == 1


def test_metrics_still_answer_when_the_database_is_down(app_with):
    client = app_with(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{CLOSED_PORT}/ijwi").test_client()
    samples = scrape(client)
    assert samples[("ijwi_ready", frozenset({("dependency", "database")}))] == 0
    assert samples[("ijwi_ready", frozenset({("dependency", "redis")}))] == 1
    assert not any(name == "ijwi_referrals" for name, _ in samples)
    assert client.get("/readyz").status_code == 503


def test_metrics_sum_every_process_in_multiprocess_mode(app_with, tmp_path: Path):
    """Two other processes (as gunicorn workers or RQ workers would) count into one folder."""
    folder = tmp_path / "metrics"
    prepare_multiproc_dir(str(folder))
    program = "from gateway import metrics; metrics.REPORTS.labels('ussd').inc(); metrics.SESSIONS_STARTED.inc(2)"
    for _ in range(2):
        env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
        subprocess.run([sys.executable, "-c", program], env=env, check=True, cwd=Path(__file__).parents[2])
    assert len(list(folder.glob("counter_*.db"))) == 2
    samples = scrape(app_with(prometheus_multiproc_dir=str(folder)).test_client())
    assert samples[("ijwi_reports_total", frozenset({("channel", "ussd")}))] == 2
    assert samples[("ijwi_ussd_sessions_started_total", frozenset())] == 4
    # Emptied before the processes start again (a kept file would be summed forever).
    (folder / "ijwi.db").write_text("not ours")
    prepare_multiproc_dir(str(folder))
    assert [p.name for p in folder.iterdir()] == ["ijwi.db"]


# --- logs ---------------------------------------------------------------------------------


def _json_lines(text: str) -> list[dict[str, object]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON, or this fails


def test_a_hop_logs_one_json_line_with_the_masked_phone_and_no_free_text(app_with, capsys):
    app = app_with(log_level="DEBUG")
    rt = app.extensions["ijwi"]
    rt.redis.flushdb()
    capsys.readouterr()
    end = _whole_report(app.test_client(), rt)
    records = _json_lines(capsys.readouterr().err)
    hops = [r for r in records if r["message"] == "ussd hop"]
    assert len(hops) == 9
    masked = VOLUNTEER_PHONE[:4] + "*" * 7 + VOLUNTEER_PHONE[-3:]
    assert {r["phone"] for r in hops} == {masked}
    assert [r["screen"] for r in hops] == ["CON"] * 8 + ["END"]
    assert [r["level"] for r in hops] == ["DEBUG"] * 8 + ["INFO"]  # one line a session at INFO
    assert all(r["request_id"] and r["session"] and "ms" in r for r in hops)
    assert len({r["request_id"] for r in hops}) == 9  # one id per request
    everything = json.dumps(records)
    assert FREE_TEXT not in everything and "12*B" not in everything
    assert VOLUNTEER_PHONE not in everything
    assert "Thank you" not in everything and end[4:] not in everything  # no screen text either


def test_a_request_id_from_the_header_is_logged_and_sent_back(app_with, capsys):
    client = app_with(log_level="DEBUG").test_client()
    capsys.readouterr()
    form = {"sessionId": "ATUid_rid", "phoneNumber": "+250788765432", "serviceCode": "*801#", "text": ""}
    response = client.post("/ussd", data=form, headers={"X-Request-Id": "lb-7f3a"})
    assert response.headers["X-Request-Id"] == "lb-7f3a"
    first_hop = [r for r in _json_lines(capsys.readouterr().err) if r["message"] == "ussd hop"]
    assert first_hop and first_hop[0]["request_id"] == "lb-7f3a" and first_hop[0]["level"] == "DEBUG"
    # A header that is no id (too long, odd characters) is replaced by one made here.
    response = client.post("/ussd", data=form | {"sessionId": "ATUid_rid2"}, headers={"X-Request-Id": "x y;" * 30})
    assert len(response.headers["X-Request-Id"]) == 20 and response.headers["X-Request-Id"] != "lb-7f3a"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_format_setting(app_with, capsys, log_format: str):
    app = app_with(log_format=log_format)
    capsys.readouterr()
    app.logger.warning("a fixed event", extra={"count": 3})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    if log_format == "json":
        assert json.loads(line)["count"] == 3
    else:
        assert line.endswith("WARNING gateway.app: a fixed event")


# --- what the dashboard and the alert rules read -------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_dashboard_and_alert_rules_read_only_metrics_the_gateway_serves(client):
    served = {family.name for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    served = {name for name in served if name.startswith("ijwi_")}
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text())["groups"][0]["rules"]
    expressions += [rule["expr"] for rule in rules]
    read = {re.sub(r"_(bucket|count|sum|total)$", "", name) for e in expressions for name in re.findall(r"ijwi_\w+", e)}
    assert read - served == set()
    assert served - read == set()  # and the dashboard shows every metric
    assert {rule["alert"] for rule in rules} >= {"IjwiNoAlertDelivered", "IjwiSmsOutOfCredit", "IjwiQueueGrowing"}


def test_ijwi_run_gives_its_processes_one_emptied_metrics_folder(tmp_path: Path, monkeypatch):
    from gateway import launcher

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "instance" / "metrics"
    folder.mkdir(parents=True)
    (folder / "counter_4242.db").write_bytes(b"a dead process's counts")
    environ: dict[str, str] = {}
    launcher.share_metrics(environ)
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder.resolve())
    assert list(folder.iterdir()) == []
    chosen = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "elsewhere")}
    launcher.share_metrics(chosen)
    assert (tmp_path / "elsewhere").is_dir()


def test_metrics_count_home_visits_and_their_referrals(client, rt, run_jobs):
    from tests.gateway.test_home_visits import _visit

    register_volunteer(rt, language="en")
    before = scrape(client)
    assert _visit(client, "en", "H12", {"health"}).startswith("END ")
    assert _visit(client, "en", "H13", set()).startswith("END ")
    run_jobs()
    after = scrape(client)
    assert moved(before, after, "ijwi_visits_total", concern="yes") == 1
    assert moved(before, after, "ijwi_visits_total", concern="no") == 1
    assert moved(before, after, "ijwi_referrals_created_total", source="visit") == 1


def test_a_phone_past_its_look_up_limit_is_counted_in_the_metrics(client, rt):
    before = scrape(client)
    allowed = [limits.allow(rt, limits.Limit.LOOKUP, "a-phone-hash", per_hour=1) for _ in range(3)]
    assert allowed == [True, False, False]
    assert moved(before, scrape(client), "ijwi_rate_limited_total", what="lookup") == 2
