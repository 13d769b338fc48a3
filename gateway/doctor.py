"""What `doctor` checks: settings, keys, database, Redis and Africa's Talking, each with what to fix.

`flask --app wsgi doctor` runs it in the app; `python -m gateway.doctor` runs it even when the
settings are too broken for the app to start. Nothing is sent and nothing is changed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import requests
from africastalking.Application import ApplicationService
from africastalking.Service import AfricasTalkingException
from cryptography.fernet import Fernet
from rq import Worker
from sqlalchemy import select, text

from gateway import keys, migrate
from gateway.config import ConfigError, Settings, check, load_settings
from gateway.models import Report
from gateway.runtime import Runtime

# How a finding weighs: OK, a WARNING to read (exit 0), a FAILURE to fix (exit 1).
OK = "ok"
WARN = "warn"
FAIL = "FAIL"
# Seconds to wait for Africa's Talking.
AT_TIMEOUT = 10
# Shortest SECRET_KEY worth keeping (it keys the phone look-up hashes).
SECRET_KEY_MIN = 32
# Redis persistence settings that keep the queue and sessions across a restart.
GOOD_FSYNC = ("everysec", "always")


@dataclass(frozen=True)
class Finding:
    level: str
    what: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level:<4}  {self.what}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


def settings_findings(settings: Settings) -> list[Finding]:
    """The settings the gateway runs with, and those that are fine for development only."""
    found: list[Finding] = []
    try:
        check(settings)
    except ConfigError as exc:
        return [Finding(FAIL, "settings", str(exc), "set it in the environment of every process")]
    found.append(Finding(OK, "settings", "complete"))
    if settings.sms_backend == "console":
        found.append(
            Finding(
                WARN,
                "sms",
                "SMS_BACKEND=console: no SMS reaches an officer (development only)",
                "SMS_BACKEND=africastalking with AT_USERNAME, AT_API_KEY and AT_SENDER_ID",
            )
        )
    if not settings.webhook_token:
        found.append(
            Finding(
                WARN,
                "webhooks",
                "WEBHOOK_TOKEN is empty: anybody may post USSD hops and SMS to the gateway",
                "set WEBHOOK_TOKEN and add ?token=... to the callback URLs at Africa's Talking",
            )
        )
    if settings.database_url.startswith("sqlite"):
        found.append(Finding(WARN, "database", "SQLite is for development", "DATABASE_URL=postgresql+psycopg://..."))
    if not settings.redis_url:
        found.append(
            Finding(WARN, "redis", "REDIS_URL is empty: an embedded Redis (development only)", "REDIS_URL=redis://...")
        )
    if len(settings.secret_key) < SECRET_KEY_MIN:
        found.append(
            Finding(
                WARN,
                "keys",
                f"SECRET_KEY is shorter than {SECRET_KEY_MIN} characters",
                "a long random one (it keys the phone look-up hashes: changing it forgets callers' languages)",
            )
        )
    if not settings.metrics_token and not settings.metrics_allow:
        found.append(
            Finding(WARN, "metrics", "/metrics refuses everybody", "set METRICS_TOKEN (and the scraper's bearer token)")
        )
    multiproc = settings.prometheus_multiproc_dir
    if not multiproc:
        found.append(
            Finding(
                WARN,
                "metrics",
                "PROMETHEUS_MULTIPROC_DIR is empty: /metrics counts only the one process that answers it",
                "an empty folder shared by the web and worker processes, emptied before they start",
            )
        )
    elif not (os.path.isdir(multiproc) and os.access(multiproc, os.W_OK)):
        found.append(
            Finding(FAIL, "metrics", f"PROMETHEUS_MULTIPROC_DIR {multiproc} is not a writable folder", "create it")
        )
    return found


def key_findings(rt: Runtime) -> list[Finding]:
    """ENCRYPTION_KEY is a Fernet key and opens the data stored with it."""
    try:
        Fernet(rt.settings.encryption_key.encode())
    except (ValueError, TypeError):
        return [
            Finding(
                FAIL,
                "keys",
                "ENCRYPTION_KEY is not a Fernet key (32 bytes, urlsafe base64)",
                "the key the data was encrypted with; a new database only: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
            )
        ]
    try:
        with rt.db.reading() as session:
            sample = session.scalar(select(Report.reporter_phone_enc).order_by(Report.id.desc()).limit(1))
    except Exception:
        return [Finding(OK, "keys", "ENCRYPTION_KEY is a Fernet key (no stored data read: see database)")]
    if sample is None:
        return [Finding(OK, "keys", "ENCRYPTION_KEY is a Fernet key (no report stored yet)")]
    try:
        rt.crypto.decrypt(sample)
    except Exception:
        return [
            Finding(
                FAIL,
                "keys",
                "ENCRYPTION_KEY does not open the latest stored report",
                "set the key the data was encrypted with (a changed key makes every report unreadable)",
            )
        ]
    return [Finding(OK, "keys", "ENCRYPTION_KEY opens the stored reports")]


def database_findings(rt: Runtime) -> list[Finding]:
    """The database answers and is migrated to the newest revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:
        return [
            Finding(
                FAIL,
                "database",
                f"unreachable ({type(exc).__name__})",
                "check DATABASE_URL and that the database server is running and reachable",
            )
        ]
    head = ScriptDirectory.from_config(migrate.alembic_config(rt.settings.database_url)).get_current_head()
    if current != head:
        return [
            Finding(
                FAIL,
                "database",
                f"at migration {current or 'none'}, the code needs {head}",
                "flask --app wsgi db upgrade (the Procfile's release)",
            )
        ]
    return [Finding(OK, "database", f"reachable, migrated to {head}")]


def redis_findings(rt: Runtime) -> list[Finding]:
    """Redis answers, keeps its data across a restart, never evicts jobs; workers listen."""
    try:
        rt.redis.ping()
    except Exception as exc:
        return [
            Finding(FAIL, "redis", f"unreachable ({type(exc).__name__})", "check REDIS_URL and that Redis is running")
        ]
    found = [Finding(OK, "redis", "reachable")]
    try:
        config = rt.redis.config_get("appendonly") | rt.redis.config_get("appendfsync")
        config |= rt.redis.config_get("maxmemory-policy")
    except Exception:
        found.append(
            Finding(
                WARN,
                "redis persistence",
                "cannot read Redis's settings (CONFIG is disabled here)",
                "make sure of appendonly yes, appendfsync everysec and maxmemory-policy noeviction",
            )
        )
    else:
        if config.get("appendonly") != "yes" or config.get("appendfsync") not in GOOD_FSYNC:
            found.append(
                Finding(
                    WARN,
                    "redis persistence",
                    f"appendonly {config.get('appendonly')}, appendfsync {config.get('appendfsync')}: "
                    "a restart loses queued jobs and callers' sessions (the sweeper re-queues jobs after minutes)",
                    "appendonly yes and appendfsync everysec in redis.conf",
                )
            )
        else:
            found.append(Finding(OK, "redis persistence", f"appendonly yes, appendfsync {config['appendfsync']}"))
        if config.get("maxmemory-policy", "noeviction") != "noeviction":
            found.append(
                Finding(
                    WARN,
                    "redis memory",
                    f"maxmemory-policy {config['maxmemory-policy']}: Redis may drop queued jobs when full",
                    "maxmemory-policy noeviction",
                )
            )
    try:
        workers = Worker.count(queue=rt.queue)
        failed = rt.queue.failed_job_registry.count
    except Exception as exc:
        return [*found, Finding(FAIL, "queue", f"unreadable ({type(exc).__name__})", "check REDIS_URL")]
    if workers == 0:
        found.append(Finding(WARN, "queue", "no worker is running: no alert is sent", "start the Procfile's worker"))
    else:
        waiting = len(rt.queue) + rt.redis.llen(keys.routing_inbox())
        found.append(Finding(OK, "queue", f"{workers} worker(s) listening, {waiting} job(s) waiting"))
    if failed:
        found.append(
            Finding(WARN, "queue", f"{failed} failed job(s)", "flask --app wsgi jobs list, then jobs retry or purge")
        )
    return found


def africastalking_findings(settings: Settings) -> list[Finding]:
    """Africa's Talking accepts the credentials (its user-data look-up: nothing is sent)."""
    if settings.sms_backend != "africastalking":
        return []
    service = ApplicationService(settings.at_username, settings.at_api_key)
    if settings.at_api_base_url:
        service._baseUrl = settings.at_api_base_url.rstrip("/") + "/version1"
    try:
        answer = service.fetch_application_data(timeout=AT_TIMEOUT)
    except requests.RequestException as exc:
        return [
            Finding(
                FAIL,
                "africa's talking",
                f"no answer ({type(exc).__name__})",
                "check this machine's internet access (HTTPS out) and DNS",
            )
        ]
    except AfricasTalkingException as exc:
        return [
            Finding(
                FAIL,
                "africa's talking",
                f"refused AT_USERNAME {settings.at_username!r} with AT_API_KEY: {str(exc)[:120]}",
                "the username and an API key of that same account (Settings > API Key in its dashboard)",
            )
        ]
    balance = str((answer.get("UserData") or {}).get("balance", "")) if isinstance(answer, dict) else ""
    found = [Finding(OK, "africa's talking", f"credentials accepted, balance {balance or 'unknown'}")]
    amount = re.search(r"[\d.]+", balance)
    if amount and float(amount.group(0)) <= 0:
        found.append(Finding(WARN, "africa's talking", "the balance is 0: no SMS can be sent", "top up the account"))
    if settings.at_username == "sandbox":
        found.append(
            Finding(
                WARN,
                "africa's talking",
                "AT_USERNAME=sandbox: messages go to the simulator, not to phones",
                "the live account's username",
            )
        )
    return found


CHECKS: tuple[Callable[[Runtime], list[Finding]], ...] = (
    lambda rt: settings_findings(rt.settings),
    key_findings,
    database_findings,
    redis_findings,
    lambda rt: africastalking_findings(rt.settings),
)


def examine(rt: Runtime) -> list[Finding]:
    return [finding for check_ in CHECKS for finding in check_(rt)]


def summary(findings: list[Finding]) -> tuple[str, int]:
    """The closing line and the exit status (1 when anything must be fixed)."""
    failures = sum(f.level == FAIL for f in findings)
    warnings = sum(f.level == WARN for f in findings)
    if failures:
        return f"{failures} problem(s) to fix, {warnings} warning(s)", 1
    return f"ready ({warnings} warning(s))", 0


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(Finding(FAIL, "settings", str(exc), "set it in the environment of every process").line())
        return 1
    findings = examine(Runtime(settings))
    for finding in findings:
        print(finding.line())
    line, status = summary(findings)
    print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
