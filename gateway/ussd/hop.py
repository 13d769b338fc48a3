"""POST /ussd (Africa's Talking's USSD callback), answered in front of the Flask app.

The hop is the one request the network sends thousands of times a minute, and Flask's request
cycle (contexts, URL matching, hooks, the response object) cost more CPU than the hop's own
work. UssdRoute answers it from the WSGI environ and passes every other request to Flask;
it keeps what the app gives every request (the webhook token and address checks, the body
cap, the request id in the logs and in the answer) through the same functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from werkzeug.exceptions import Forbidden, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wrappers import Request

from gateway import logs, metrics, webhooks
from gateway.phones import InvalidPhoneError, normalize
from gateway.runtime import Runtime
from gateway.ussd import notices
from gateway.ussd.service import UssdService
from gateway.webhooks import safe_id

log = logging.getLogger(__name__)

# Where Africa's Talking posts each hop.
PATH = "/ussd"
# Longest sessionId accepted.
SESSION_ID_MAX = 100
# The answer when the request itself is unusable (no session or phone).
BAD_REQUEST_REPLY = notices.notice("bad_request", "en")
# Longest text of a whole session (every input joined by "*"): more is no caller's typing.
TEXT_MAX = 2000
# The form's media type Africa's Talking posts (read here without werkzeug's form parser).
FORM_TYPE = "application/x-www-form-urlencoded"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class UssdRoute:
    """A WSGI app: POST /ussd answered here, anything else passed on to app (Flask's)."""

    def __init__(self, app: WsgiApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt
        self.max_bytes = rt.settings.max_request_bytes

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            refused = webhooks.error_answer(MethodNotAllowed(["POST"]))
            refused.headers["Allow"] = "POST"
            return refused(environ, start_response)
        started = time.perf_counter()
        request_id = logs.start_request(environ.get("HTTP_X_REQUEST_ID", ""))
        try:
            reason = webhooks.refusal(self.rt, _token(environ), environ.get("REMOTE_ADDR", ""))
            if reason is not None:
                response = webhooks.error_answer(Forbidden(reason))
                response.headers[logs.REQUEST_ID_HEADER] = request_id
                return response(environ, start_response)
            reply = self._reply(environ, started)
        except Exception:
            log.exception("USSD hop failed outside its session's handling")
            metrics.HOP_ERRORS.inc()
            reply = BAD_REQUEST_REPLY
        finally:
            logs.end_request()
        body = reply.encode("utf-8")
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                (logs.REQUEST_ID_HEADER, request_id),
            ],
        )
        return [body]

    def _reply(self, environ: Environ, started: float) -> str:
        try:
            form = self._form(environ)
        except RequestEntityTooLarge:
            return notices.notice("too_long")
        return answer(self.rt, form, started)

    def _form(self, environ: Environ) -> dict[str, str]:
        """A hop's fields (the first of each name). The urlencoded form Africa's Talking posts is
        read with the standard library; any other body goes through werkzeug's parser. A body
        over MAX_REQUEST_BYTES raises RequestEntityTooLarge before it is read."""
        media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if media_type == FORM_TYPE and length.isascii() and length.isdigit():
            if int(length) > self.max_bytes:
                raise RequestEntityTooLarge()
            return _fields(environ["wsgi.input"].read(int(length)))
        request = Request(environ)
        request.max_content_length = self.max_bytes
        if media_type == FORM_TYPE:
            return _fields(request.get_data(cache=False))
        return request.form.to_dict()


def answer(rt: Runtime, form: Mapping[str, str], started: float) -> str:
    """The reply to one hop's form: a CON or END screen, whatever the form holds or whatever
    fails (counted and logged, answered with a polite END)."""
    session_id = safe_id(form.get("sessionId", ""), SESSION_ID_MAX)
    text = form.get("text", "")
    if session_id is None:
        return BAD_REQUEST_REPLY
    if len(text) > TEXT_MAX:
        return notices.notice("too_long")
    try:
        phone = normalize(form.get("phoneNumber", ""))
    except InvalidPhoneError:
        return BAD_REQUEST_REPLY
    logs.set_phone(phone)
    service = UssdService(rt)
    try:
        reply = service.handle(session_id, phone, text)
    except Exception:
        log.exception("USSD hop failed", extra={"session": session_id})
        metrics.HOP_ERRORS.inc()
        reply = service.error_reply(session_id)
    _hop_done(session_id, text, reply, time.perf_counter() - started)
    return reply


def _hop_done(session_id: str, text: str, reply: str, seconds: float) -> None:
    """A hop's latency by screen kind, and its log line: at INFO for a session's END screen (one
    line a session; a dropped one gets the network's notification's), at DEBUG before it. Never
    the text or the screen: they may hold free text."""
    screen = reply[:3]
    metrics.HOP_SECONDS.labels(screen).observe(seconds)
    level = logging.INFO if screen == "END" else logging.DEBUG
    if log.isEnabledFor(level):
        hop = text.count("*") + 1 if text else 0
        ms = round(seconds * 1000, 2)
        log.log(level, "ussd hop", extra={"session": session_id, "hop": hop, "screen": screen, "ms": ms})


def _token(environ: Environ) -> str:
    """The query string's first token= (the webhook's shared secret), else ""."""
    query = environ.get("QUERY_STRING", "")
    if not query:
        return ""
    return next((value for name, value in parse_qsl(query, keep_blank_values=True) if name == "token"), "")


def _fields(body: bytes) -> dict[str, str]:
    """An urlencoded body's fields, the first of each name, as parse_qsl reads them (UTF-8, bad
    bytes replaced; a name without "=" has an empty value) at a fraction of its cost: a part
    with neither "%" nor "+" (every name, most values) is taken as it is."""
    form: dict[str, str] = {}
    for pair in body.decode(errors="replace").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = _unquoted(name)
        if name not in form:
            form[name] = _unquoted(value)
    return form


def _unquoted(part: str) -> str:
    return unquote_plus(part) if "%" in part or "+" in part else part
