"""The SMS provider: one small interface, Africa's Talking (official SDK) and a console outbox."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import requests
from africastalking.Service import DEFAULT_TIMEOUT_S, AfricasTalkingException
from africastalking.SMS import SMSService

from gateway.config import Settings
from gateway.phones import masked

log = logging.getLogger(__name__)

# What became of one message handed to the provider.
ACCEPTED = "accepted"  # taken for delivery; a delivery report follows
RETRY = "retry"  # refused for now, worth sending again later
NO_CREDIT = "no_credit"  # the account is out of credit: worth sending again after a top-up
REJECTED = "rejected"  # refused for good as it is (bad number, blacklisted, do-not-disturb...)

# Africa's Talking recipient statusCode values, by what they mean for us.
AT_ACCEPTED = {100, 101, 102}
AT_RETRY = {500, 501, 502}
AT_NO_CREDIT = {405}
# Messages the console outbox keeps (the latest ones).
OUTBOX_KEEP = 200
# Phone numbers inside a text, to mask them in logs.
_PHONE_IN_TEXT = re.compile(r"\+\d{9,15}")


class SmsUnavailableError(RuntimeError):
    """The provider gave no usable answer (timeout, network, non-2xx): try again later."""


@dataclass(frozen=True)
class SendResult:
    """The provider's answer about one message."""

    outcome: str
    provider_message_id: str | None = None
    # The provider's own status words and code, kept on the message row.
    provider_status: str = ""
    status_code: int | None = None
    cost: str | None = None

    @property
    def settled(self) -> bool:
        """Taken for delivery, or refused for good: nothing to try again."""
        return self.outcome in (ACCEPTED, REJECTED)


class SmsProvider(Protocol):
    """Sends one SMS to one E.164 number."""

    name: str

    def send(self, to: str, body: str) -> SendResult: ...


class KeepAliveSMSService(SMSService):  # type: ignore[misc]
    """The SDK's SMS service, its requests sent over connections kept open and reused.

    The SDK builds each request (URL, headers, form) and reads each answer itself, but posts
    with requests.post, which opens a new connection (TCP and TLS handshakes) for every SMS.
    This replaces only that transport function of the SDK's Service (the name it calls) with a
    requests.Session per thread, so that a sender thread's requests reuse one connection.
    """

    _local = threading.local()

    @classmethod
    def _http(cls, url: str) -> requests.Session:
        session: requests.Session | None = getattr(cls._local, "session", None)
        if session is None:
            session = requests.Session()
            # The environment's proxy and CA settings, read once for the one host the SDK posts
            # to: requests would read the whole environment again on every request.
            session.proxies = requests.utils.get_environ_proxies(url)
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            session.trust_env = False
            cls._local.session = session
        return session

    @classmethod
    def _Service__make_post_request(  # noqa: N802 (the SDK's private name, as Python mangles it)
        cls,
        url: str,
        headers: dict[str, str],
        data: Any,
        params: Any,
        callback: Any = None,
        timeout: Any = DEFAULT_TIMEOUT_S,
    ) -> requests.Response | None:
        res = cls._http(url).post(url=url, headers=headers, params=params, data=data, timeout=timeout)
        if callback is None or callback == {}:
            return res
        callback(res)
        return None


class AfricasTalkingSms:
    """Africa's Talking through the official SDK; its client is made on first send (no I/O before)."""

    name = "africastalking"

    def __init__(self, username: str, api_key: str, sender_id: str = "", base_url: str = "") -> None:
        self.username = username
        self._api_key = api_key
        self.sender_id = sender_id or None
        # Bench and development only: another server playing Africa's Talking.
        self.base_url = base_url.rstrip("/")

    @cached_property
    def _service(self) -> SMSService:
        # The SDK picks the sandbox URL itself when the username is "sandbox".
        service = KeepAliveSMSService(self.username, self._api_key)
        if self.base_url:
            # The SDK builds its URLs as _baseUrl + "/version1" + "/messaging".
            service._baseUrl = self.base_url + "/version1"
        return service

    def send(self, to: str, body: str) -> SendResult:
        try:
            answer = self._service.send(body, [to], sender_id=self.sender_id)
        except requests.RequestException as exc:
            raise SmsUnavailableError(f"no answer from Africa's Talking: {type(exc).__name__}") from exc
        except AfricasTalkingException as exc:
            # The SDK keeps only the body of a non-2xx answer, not its status code.
            raise SmsUnavailableError(f"Africa's Talking refused the request: {str(exc)[:120]}") from exc
        return self.read_answer(answer)

    @staticmethod
    def read_answer(answer: Any) -> SendResult:
        """The result for the one recipient of a 2xx answer (a dict, or a str of JSON)."""
        if isinstance(answer, str):
            # The SDK parses JSON only when the content type is exactly application/json.
            try:
                answer = json.loads(answer)
            except ValueError:
                raise SmsUnavailableError("Africa's Talking answered something that is not JSON") from None
        try:
            data = answer["SMSMessageData"]
            recipients = data["Recipients"]
        except (KeyError, TypeError):
            raise SmsUnavailableError("Africa's Talking answered without SMSMessageData.Recipients") from None
        if not recipients:
            # A refusal of the whole request (e.g. InvalidSenderId) names no recipient.
            raise SmsUnavailableError(f"Africa's Talking sent to nobody: {str(data.get('Message', ''))[:80]}")
        first = recipients[0]
        try:
            code: int | None = int(first.get("statusCode"))
        except (TypeError, ValueError):
            code = None
        if code in AT_ACCEPTED:
            outcome = ACCEPTED
        elif code in AT_RETRY:
            outcome = RETRY
        elif code in AT_NO_CREDIT:
            outcome = NO_CREDIT
        elif code is None:
            outcome = RETRY
        else:
            outcome = REJECTED
        message_id = first.get("messageId")
        return SendResult(
            outcome=outcome,
            provider_message_id=message_id if message_id and message_id != "None" else None,
            provider_status=str(first.get("status", ""))[:30],
            status_code=code,
            cost=str(first.get("cost", "")) or None,
        )


@dataclass
class ConsoleSms:
    """For development: logs each SMS (numbers masked) and keeps it in an outbox list."""

    name = "console"
    outbox: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to: str, body: str) -> SendResult:
        self.outbox.append((to, body))
        del self.outbox[:-OUTBOX_KEEP]
        log.info("SMS to %s: %s", masked(to), mask_numbers(body))
        return SendResult(
            outcome=ACCEPTED,
            provider_message_id=f"console-{uuid.uuid4().hex}",
            provider_status="Success",
            status_code=101,
            cost="0",
        )


def mask_numbers(text: str) -> str:
    """text with every phone number in it masked, for logs."""
    return _PHONE_IN_TEXT.sub(lambda m: masked(m.group(0)), text)


def provider(settings: Settings) -> SmsProvider:
    """The provider SMS_BACKEND names."""
    if settings.sms_backend == "africastalking":
        return AfricasTalkingSms(
            settings.at_username, settings.at_api_key, settings.at_sender_id, settings.at_api_base_url
        )
    return ConsoleSms()
