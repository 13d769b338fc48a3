"""POST /ussd as a WSGI server calls the app (werkzeug's test Client over app.wsgi_app, no Flask
test client): the hop's route in front of Flask keeps the webhook token, the address list, the
body cap, the metrics and the log lines, and never answers a 500."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import REGISTRY
from werkzeug.test import Client

from gateway.ussd import notices
from gateway.ussd.hop import _fields
from gateway.ussd.service import UssdService
from tests.helpers import COMMUNITY_PHONE

FORM = {"sessionId": "ATUid_w1", "phoneNumber": COMMUNITY_PHONE, "serviceCode": "*801#", "text": ""}


def wsgi(app: Any) -> Client:
    """A client calling the app's WSGI callable as a server does (not Flask's test client)."""
    return Client(app.wsgi_app)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_hop_without_the_token_is_refused_and_leaves_no_session(app_with):
    app = app_with(webhook_token="s3cret")
    rt = app.extensions["ijwi"]
    rt.redis.flushdb()
    client = wsgi(app)
    for url in ("/ussd", "/ussd?token=wrong", "/ussd?token="):
        refused = client.post(url, data=FORM)
        assert refused.status_code == 403
        assert refused.json == {"error": "Forbidden", "message": "wrong or missing webhook token"}
    assert rt.redis.dbsize() == 0  # no session, no caller profile
    served = client.post("/ussd?token=s3cret", data=FORM)
    assert served.status_code == 200 and served.mimetype == "text/plain"
    assert served.get_data(as_text=True).startswith("CON ")


def test_without_a_token_outside_development_the_hop_is_closed(app, rt):
    rt.settings = replace(rt.settings, webhook_token="", dev_mode=False)  # where the start check did not run
    refused = wsgi(app).post("/ussd", data=FORM)
    assert refused.status_code == 403 and "WEBHOOK_TOKEN is not set" in refused.json["message"]


def test_a_hop_from_outside_the_allowed_addresses_is_refused(app_with):
    app = app_with(webhook_allowed_ips="10.0.0.0/8")
    client = wsgi(app)
    refused = client.post("/ussd", data=FORM, environ_overrides={"REMOTE_ADDR": "192.0.2.9"})
    assert refused.status_code == 403 and refused.json["message"] == "this address may not call the webhooks"
    allowed = client.post("/ussd", data=FORM, environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert allowed.get_data(as_text=True).startswith("CON ")


def test_a_body_over_the_cap_gets_a_polite_end_before_it_is_read(app_with):
    app = app_with(max_request_bytes=1024)
    client = wsgi(app)
    too_long = notices.notice("too_long")
    big = FORM | {"text": "1", "networkCode": "9" * 2000}
    for answer in (client.post("/ussd", data=big), client.post("/ussd", data=big, content_type="multipart/form-data")):
        assert answer.status_code == 200 and answer.mimetype == "text/plain"
        assert answer.get_data(as_text=True) == too_long
    # Under the cap, the same fields in either encoding are a hop.
    assert client.post("/ussd", data=FORM).get_data(as_text=True).startswith("CON ")
    multipart = FORM | {"sessionId": "ATUid_w2"}
    answer = client.post("/ussd", data=multipart, content_type="multipart/form-data")
    assert answer.get_data(as_text=True).startswith("CON ")


def test_a_form_with_a_charset_and_odd_bytes_is_still_read(app):
    client = wsgi(app)
    body = "sessionId=ATUid_w3&phoneNumber=%2B250788765432&text=&networkCode=%FF%FE"
    answer = client.post("/ussd", data=body, content_type="application/x-www-form-urlencoded; charset=UTF-8")
    assert answer.get_data(as_text=True).startswith("CON ")
    unreadable = client.post("/ussd", data="sessionId=&phoneNumber=", content_type="application/x-www-form-urlencoded")
    assert unreadable.get_data(as_text=True) == notices.notice("bad_request", "en")


def test_hops_move_the_hop_metrics_and_a_failure_is_counted_and_answered_politely(app, monkeypatch):
    client = wsgi(app)
    con, errors = sample("ijwi_ussd_hop_seconds_count", screen="CON"), sample("ijwi_ussd_hop_errors_total")
    started = sample("ijwi_ussd_sessions_started_total")
    assert client.post("/ussd", data=FORM).get_data(as_text=True).startswith("CON ")
    assert sample("ijwi_ussd_hop_seconds_count", screen="CON") == con + 1
    assert sample("ijwi_ussd_sessions_started_total") == started + 1

    def broken(*_args: Any) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(UssdService, "handle", broken)
    end = sample("ijwi_ussd_hop_seconds_count", screen="END")
    failed = client.post("/ussd", data=FORM | {"text": "1"})
    rt = app.extensions["ijwi"]
    assert failed.status_code == 200
    assert failed.get_data(as_text=True) == "END " + rt.menus.last_active().string("session_error", "rw")
    assert sample("ijwi_ussd_hop_errors_total") == errors + 1
    assert sample("ijwi_ussd_hop_seconds_count", screen="END") == end + 1


def test_a_failure_before_the_session_is_read_is_still_a_polite_end(app, monkeypatch):
    from gateway.ussd import hop

    def broken(_raw: str) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(hop, "normalize", broken)
    errors = sample("ijwi_ussd_hop_errors_total")
    answer = wsgi(app).post("/ussd", data=FORM)
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True) == notices.notice("bad_request", "en")
    assert sample("ijwi_ussd_hop_errors_total") == errors + 1


def test_a_hop_logs_a_json_line_with_the_masked_phone_and_its_request_id(app_with, capsys):
    app = app_with(log_level="DEBUG")
    capsys.readouterr()
    answer = wsgi(app).post("/ussd", data=FORM, headers={"X-Request-Id": "lb-42"})
    assert answer.headers["X-Request-Id"] == "lb-42"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    hops = [line for line in lines if line["message"] == "ussd hop"]
    assert len(hops) == 1
    assert hops[0]["request_id"] == "lb-42" and hops[0]["session"] == "ATUid_w1" and hops[0]["screen"] == "CON"
    assert hops[0]["phone"] == COMMUNITY_PHONE[:4] + "*" * 7 + COMMUNITY_PHONE[-3:]
    assert COMMUNITY_PHONE not in json.dumps(lines)
    # The next request (another route, through Flask) carries neither that id nor that phone.
    assert wsgi(app).get("/healthz").headers["X-Request-Id"] != "lb-42"


def test_other_routes_and_methods_still_go_through_the_app(app):
    client = wsgi(app)
    assert client.get("/healthz").json == {"status": "ok"}
    wrong_method = client.get("/ussd")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert client.post("/ussd/events", data={"sessionId": "ATUid_w1", "status": "Success"}).status_code == 200


def test_the_hop_reads_any_form_as_the_standard_library_does():
    """The hop's own form reader against parse_qsl (the first value of each name) on bodies made
    of the characters that matter: escapes good and bad, "+", "=", "&", split UTF-8."""
    pieces = [
        "a",
        "text",
        "sessionId",
        "=",
        "&",
        "+",
        "%2A",
        "%2B",
        "%23",
        "%20",
        "%",
        "%zz",
        "%e2%82",
        "%ac",
        "é",
        "1*2",
        "*",
    ]
    rng = random.Random(15)
    for _ in range(20000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))).encode()
        expected: dict[str, str] = {}
        for name, value in parse_qsl(body.decode(errors="replace"), keep_blank_values=True):
            expected.setdefault(name, value)
        assert _fields(body) == expected, body
