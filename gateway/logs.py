"""Logging, set up in this one place: JSON lines (LOG_FORMAT=json, the default) or text.

Every line carries, when known, the request's id (`request_id`: the X-Request-Id header, or
made here, and sent back in the answer) and the caller's masked phone (`phone`). Callers of
the logger pass facts as `extra={...}` fields with a fixed message; never what a caller or
an officer typed, never a whole phone number.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from flask import Flask, Response, request
from pythonjsonlogger.json import JsonFormatter

from gateway.phones import masked

# The header a request id comes in (from a load balancer) and goes back out in.
REQUEST_ID_HEADER = "X-Request-Id"
# A request id taken from the header: short, and only characters safe in a log line.
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# The fields of a JSON line before any `extra` ones (and "time": ISO 8601, UTC).
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Request ids made here: a random prefix per process and a counter (uuid4 costs a system call).
_ID_PREFIX = uuid.uuid4().hex[:12]
_next_id = itertools.count(1)


def _new_prefix() -> None:
    """A forked process (a server worker forked after import) counts under a prefix of its own."""
    global _ID_PREFIX, _next_id
    _ID_PREFIX, _next_id = uuid.uuid4().hex[:12], itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_phone: ContextVar[str | None] = ContextVar("phone", default=None)


class ContextFilter(logging.Filter):
    """Adds the request id and the masked phone of the request (or job) being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None:
            record.request_id = request_id
        phone = _phone.get()
        if phone is not None:
            record.phone = phone
        return True


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure() installs (and replaces when called again): to sys.stderr as it
    is when a line is written (as logging's last-resort handler), not as it was when set up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, log_format: str) -> None:
    """One handler on the root logger, to stderr, in log_format (LOG_FORMAT) at level (LOG_LEVEL);
    called again, it replaces its own handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    handler = _OurHandler()
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)


def set_phone(e164: str) -> None:
    """The phone the current request is about: its masked form goes on every line from now on."""
    _phone.set(masked(e164))


@contextmanager
def bound(*, request_id: str | None = None, phone: str | None = None) -> Iterator[None]:
    """Lines logged inside carry this request (or job) id and phone (masked here)."""
    tokens = (_request_id.set(request_id), _phone.set(masked(phone) if phone else None))
    try:
        yield
    finally:
        _request_id.reset(tokens[0])
        _phone.reset(tokens[1])


def new_request_id() -> str:
    """An id unique across processes and restarts (random per process, then counted)."""
    return f"{_ID_PREFIX}{next(_next_id):08x}"


def init_app(app: Flask) -> None:
    """Give every request an id (the header's, if usable) and forget its context afterwards."""

    @app.before_request
    def start() -> None:
        start_request(request.headers.get(REQUEST_ID_HEADER, ""))

    @app.after_request
    def stamp(response: Response) -> Response:
        request_id = _request_id.get()
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def forget(_exc: BaseException | None) -> None:
        end_request()


def start_request(given: str) -> str:
    """A request begins: its id is given (the X-Request-Id header's value) if usable, else made
    here; no phone yet. Returns the id (to send back in the REQUEST_ID_HEADER)."""
    request_id = given if given and _GOOD_REQUEST_ID.fullmatch(given) else new_request_id()
    _request_id.set(request_id)
    _phone.set(None)
    return request_id


def end_request() -> None:
    """A request is over: later lines of this thread carry neither its id nor its phone."""
    _request_id.set(None)
    _phone.set(None)
