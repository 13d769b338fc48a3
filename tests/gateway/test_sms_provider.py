"""The SMS provider: Africa's Talking through its SDK (HTTP played by responses) and the console."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import parse_qs

import pytest
import requests
import responses

from gateway.sms.provider import (
    ACCEPTED,
    NO_CREDIT,
    REJECTED,
    RETRY,
    AfricasTalkingSms,
    ConsoleSms,
    SmsUnavailableError,
    provider,
)
from tests.helpers import AT_SMS_URL, SOCIAL_WORKER, at_answer, at_sample

PRODUCTION_URL = "https://api.africastalking.com/version1/messaging"


@pytest.fixture
def at():  # type: ignore[no-untyped-def]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_provider_follows_sms_backend_and_makes_no_request_until_a_send(base_settings, at):
    sms = provider(replace(base_settings, sms_backend="africastalking"))
    assert isinstance(sms, AfricasTalkingSms)
    assert "_service" not in vars(sms)  # the SDK client is made on first send
    assert len(at.calls) == 0
    assert isinstance(provider(replace(base_settings, sms_backend="console")), ConsoleSms)


def test_sandbox_username_posts_to_the_sandbox_with_the_sender_id(at):
    at.add(responses.POST, AT_SMS_URL, json=at_sample("sms_send_success")["body"], status=201)
    result = AfricasTalkingSms("sandbox", "key-1", "IJWI").send(SOCIAL_WORKER, "Ijwi case 4830271")
    form = parse_qs(at.calls[0].request.body)
    assert form == {
        "username": ["sandbox"],
        "to": [SOCIAL_WORKER],
        "message": ["Ijwi case 4830271"],
        "from": ["IJWI"],
        "bulkSMSMode": ["1"],
    }
    assert at.calls[0].request.headers["apiKey"] == "key-1"
    assert result.outcome == ACCEPTED and result.provider_message_id.startswith("ATXid_")


def test_production_username_posts_to_production_and_without_sender_id_sends_no_from(at):
    at.add(responses.POST, PRODUCTION_URL, json=at_answer(SOCIAL_WORKER), status=201)
    AfricasTalkingSms("ijwi", "key-2").send(SOCIAL_WORKER, "hello")
    form = parse_qs(at.calls[0].request.body)
    assert form["username"] == ["ijwi"] and "from" not in form


@pytest.mark.parametrize(
    "sample,outcome,code",
    [
        ("sms_send_success", ACCEPTED, 101),
        ("sms_send_partial", ACCEPTED, 101),
        ("sms_send_insufficient_balance", NO_CREDIT, 405),
    ],
)
def test_recipient_status_codes_say_what_became_of_the_message(sample, outcome, code):
    result = AfricasTalkingSms.read_answer(at_sample(sample)["body"])
    assert (result.outcome, result.status_code) == (outcome, code)
    if outcome != ACCEPTED:
        assert result.provider_message_id is None  # "None" from the provider is no id


@pytest.mark.parametrize(
    "code,outcome",
    [(100, ACCEPTED), (102, ACCEPTED), (500, RETRY), (501, RETRY), (502, RETRY), (405, NO_CREDIT)]
    + [(c, REJECTED) for c in (401, 402, 403, 404, 406, 407, 409)],
)
def test_each_recipient_status_code_is_classified(code, outcome):
    assert AfricasTalkingSms.read_answer(at_answer(code=code, status="x")).outcome == outcome


def test_answer_given_as_text_is_parsed_and_garbage_is_unavailable():
    import json

    assert AfricasTalkingSms.read_answer(json.dumps(at_answer())).outcome == ACCEPTED
    with pytest.raises(SmsUnavailableError):
        AfricasTalkingSms.read_answer("<html>proxy error</html>")
    with pytest.raises(SmsUnavailableError, match="InvalidSenderId"):
        AfricasTalkingSms.read_answer({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})


@pytest.mark.parametrize(
    "sample", ["sms_send_server_error", "sms_send_bad_credentials"], ids=["500", "401-bad-credentials"]
)
def test_non_2xx_answers_are_unavailable_with_the_reason(at, sample):
    answer = at_sample(sample)
    at.add(responses.POST, AT_SMS_URL, body=answer["body"], status=answer["http_status"], content_type="text/plain")
    with pytest.raises(SmsUnavailableError, match=answer["body"]):
        AfricasTalkingSms("sandbox", "key").send(SOCIAL_WORKER, "hello")


def test_timeouts_and_network_errors_are_unavailable(at):
    at.add(responses.POST, AT_SMS_URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(SmsUnavailableError, match="ReadTimeout"):
        AfricasTalkingSms("sandbox", "key").send(SOCIAL_WORKER, "hello")


def test_console_keeps_an_outbox_and_logs_numbers_masked(caplog):
    console = ConsoleSms()
    with caplog.at_level(logging.INFO, logger="gateway.sms.provider"):
        result = console.send(SOCIAL_WORKER, "Ijwi case 4830271: IZU +250788123456. Reply OK 4830271")
    assert result.outcome == ACCEPTED and result.provider_message_id.startswith("console-")
    assert console.outbox == [(SOCIAL_WORKER, "Ijwi case 4830271: IZU +250788123456. Reply OK 4830271")]
    assert "+250*******111" in caplog.text and "+250*******456" in caplog.text
    assert SOCIAL_WORKER not in caplog.text and "+250788123456" not in caplog.text


def test_at_api_base_url_sends_the_request_to_that_server(base_settings, at):
    at.add(
        responses.POST, "http://127.0.0.1:9/version1/messaging", json=at_sample("sms_send_success")["body"], status=201
    )
    settings = replace(base_settings, sms_backend="africastalking", at_api_base_url="http://127.0.0.1:9/")
    result = provider(settings).send(SOCIAL_WORKER, "hello")
    assert at.calls[0].request.url == "http://127.0.0.1:9/version1/messaging"
    assert result.outcome == ACCEPTED
