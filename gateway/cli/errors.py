"""Failures an operator can fix, told in one line with what to do; no traceback.

Every command registered by gateway.cli gets this: a missing or malformed setting, a
database or Redis the command cannot reach, a database without its tables. `--debug`
(`flask --debug ...`, `./ijwi --debug ...`) or LOG_LEVEL=DEBUG shows the traceback instead.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
import redis
from flask import current_app
from flask.helpers import get_debug_flag
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from gateway.cli.common import BadInputError, PlainError
from gateway.config import ConfigError, read_settings
from gateway.runtime import EXTENSION

# Marks a callback already wrapped (the groups are registered again by every app a test makes).
_WRAPPED = "_ijwi_plain_errors"


def safe_url(url: str) -> str:
    """url with its password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _settings_url(name: str) -> str:
    rt = current_app.extensions.get(EXTENSION) if current_app else None
    try:
        settings = rt.settings if rt is not None else read_settings()
    except ConfigError:
        return "?"
    value: str = getattr(settings, name)
    return safe_url(value) if value else "(embedded)"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain(exc: BaseException) -> PlainError | None:
    """The one-line error for exc, or None when it is not one an operator can fix."""
    if isinstance(exc, ConfigError):
        return BadInputError(f"{exc}. Set it in the environment (README, Settings); ./ijwi fills in development values")
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        url = _settings_url("redis_url")
        return PlainError(f"cannot reach Redis at {url} ({_first_line(exc)}): start it, or fix REDIS_URL")
    if isinstance(exc, DBAPIError):
        url = _settings_url("database_url")
        reason = _first_line(exc)
        if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
            return PlainError(f"the database at {url} lacks the gateway's tables ({reason}): run `./ijwi db upgrade`")
        if isinstance(exc, OperationalError | InterfaceError):
            return PlainError(
                f"cannot use the database at {url} ({reason}): check that it runs and that DATABASE_URL is right"
            )
    return None


def debugging() -> bool:
    """--debug given, or LOG_LEVEL=DEBUG: show tracebacks."""
    if get_debug_flag():
        return True
    try:
        return read_settings().log_level == "DEBUG"
    except ConfigError:
        return False


def plain_errors(command: click.Command) -> None:
    """Make command (every command of a group) tell fixable failures in one line."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            plain_errors(sub)
        return
    callback = command.callback
    if callback is None or getattr(callback, _WRAPPED, False):
        return

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except Exception as exc:
            plain = explain(exc)
            if plain is None or debugging():
                raise
            raise plain from None

    setattr(run, _WRAPPED, True)
    command.callback = run
