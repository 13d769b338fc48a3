"""The operator's commands: failed jobs, stuck messages, and `doctor` on a good and a broken setup."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from cryptography.fernet import Fernet

from gateway import canary
from gateway.clock import utcnow
from gateway.config import ConfigError
from gateway.models import Message
from tests.helpers import SOCIAL_WORKER, make_report

# Where the SDK asks for the account's data when the username is "sandbox" (nothing is sent).
AT_USER_URL = "https://api.sandbox.africastalking.com/version1/user"
# A port of this machine where nothing listens.
CLOSED_PORT = 7409


def explode(message_id: int) -> None:
    """A job that fails, as a send would when the code has a bug."""
    raise RuntimeError(f"message {message_id}: the provider client broke")


# --- jobs --------------------------------------------------------------------------------


def test_failed_jobs_are_listed_retried_and_purged(rt, runner, run_jobs):
    first = rt.queue.enqueue(explode, 41)
    second = rt.queue.enqueue(explode, 42)
    run_jobs()
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"{first.id}\ttests.gateway.test_operations_cli.explode" in listed.output
    assert "RuntimeError: message 41: the provider client broke" in listed.output
    assert "Traceback" not in listed.output
    assert "2 failed, 0 queued" in listed.output

    retried = runner.invoke(args=["jobs", "retry", first.id])
    assert retried.exit_code == 0 and "1 job(s) queued again" in retried.output
    assert len(rt.queue) == 1 and rt.queue.failed_job_registry.count == 1

    purged = runner.invoke(args=["jobs", "purge", "--all"])
    assert purged.exit_code == 0 and "1 failed job(s) deleted" in purged.output
    assert second.id not in rt.queue.failed_job_registry.get_job_ids()
    run_jobs()  # the retried one fails again
    assert rt.queue.failed_job_registry.get_job_ids() == [first.id]


def test_jobs_commands_refuse_unclear_requests(rt, runner):
    nothing = runner.invoke(args=["jobs", "retry"])
    assert nothing.exit_code == 2 and "name the failed jobs" in nothing.output
    unknown = runner.invoke(args=["jobs", "purge", "no-such-job"])
    assert unknown.exit_code == 1 and "not among the failed jobs: no-such-job" in unknown.output
    assert "Traceback" not in unknown.output


# --- outbox ------------------------------------------------------------------------------


def test_outbox_stuck_lists_only_messages_waiting_too_long(rt, runner):
    long_ago = utcnow() - timedelta(minutes=10)
    with rt.db.transaction() as session:
        session.add(Message(to=SOCIAL_WORKER, body="alert", kind="alert", status="sending", updated_at=long_ago))
        session.add(Message(to="+250788000222", body="alert", kind="alert", status="sent", updated_at=long_ago))
        session.add(Message(to="+250788000333", body="alert", kind="alert", status="queued"))
    result = runner.invoke(args=["outbox", "stuck"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "1 message(s) stuck for more than 120 s"
    assert "\talert\t+250*******111\tsending\t0 attempt(s)\t10 min" in lines[0]
    assert SOCIAL_WORKER not in result.output
    assert "2 message(s)" in runner.invoke(args=["outbox", "stuck", "--older-than", "0"]).output


# --- doctor ------------------------------------------------------------------------------


def _doctor(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["doctor"])


def _at_app(app_with, **changes):  # type: ignore[no-untyped-def]
    return app_with(sms_backend="africastalking", webhook_token="t0ken", **changes)


def test_doctor_on_a_good_setup_exits_0_and_shows_the_balance(app_with):
    app = _at_app(app_with)
    with responses.RequestsMock() as at:
        at.add(
            responses.GET,
            AT_USER_URL,
            json={"UserData": {"balance": "RWF 15000.0000"}},
            match=[responses.matchers.query_param_matcher({"username": "sandbox"})],
        )
        result = _doctor(app)
        assert [call.request.headers["apiKey"] for call in at.calls] == ["test-api-key"]
    assert result.exit_code == 0, result.output
    assert "ok    database: reachable, migrated to" in result.output
    assert "ok    keys: ENCRYPTION_KEY is a Fernet key" in result.output
    assert "ok    redis: reachable" in result.output
    assert "ok    africa's talking: credentials accepted, balance RWF 15000.0000" in result.output
    # The test Redis keeps nothing on disk (unless a real one is set so), and no worker runs:
    # said, with the fix.
    if app.extensions["ijwi"].redis.config_get("appendonly")["appendonly"] == "no":
        assert "warn  redis persistence: appendonly no" in result.output
        assert "fix: appendonly yes and appendfsync everysec" in result.output
    else:
        assert "ok    redis persistence: appendonly yes" in result.output
    assert "warn  queue: no worker is running" in result.output
    assert result.output.strip().splitlines()[-1].startswith("ready (")


def test_doctor_on_a_broken_setup_says_what_to_fix_and_exits_1(app_with, settings, tmp_path: Path):
    empty = tmp_path / "never-migrated.db"
    app = _at_app(
        app_with,
        database_url=f"sqlite:///{empty}",
        redis_url=f"redis://127.0.0.1:{CLOSED_PORT}/4",
        prometheus_multiproc_dir=str(tmp_path / "missing"),
    )
    with responses.RequestsMock() as at:
        at.add(responses.GET, AT_USER_URL, body="The supplied authentication is invalid", status=401)
        result = _doctor(app)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "FAIL  database: at migration none, the code needs" in out and "db upgrade" in out
    assert "FAIL  redis: unreachable (ConnectionError)" in out and "check REDIS_URL" in out
    assert "FAIL  africa's talking: refused AT_USERNAME 'sandbox' with AT_API_KEY" in out
    assert "FAIL  metrics: PROMETHEUS_MULTIPROC_DIR" in out
    assert out.strip().splitlines()[-1].startswith("4 problem(s) to fix, ")
    assert "Traceback" not in out


def test_doctor_fails_when_the_key_does_not_open_the_stored_reports(app, app_with, rt):
    make_report(rt)
    assert canary.check(rt) == canary.KeyCheck.OK  # the stored canary, in the app's key
    # A server with a key that opens nothing stored refuses to start (the key canary) ...
    with pytest.raises(ConfigError, match="canary"):
        app_with(encryption_key=Fernet.generate_key().decode())
    assert "ok    keys: ENCRYPTION_KEY opens the stored reports" in _doctor(app).output


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "FAIL  settings: SECRET_KEY is not set"),
        (
            {"SECRET_KEY": "x" * 40, "ENCRYPTION_KEY": "not-a-key", "DATABASE_URL": "sqlite://"},
            "FAIL  settings: ENCRYPTION_KEY",
        ),
    ],
)
def test_doctor_runs_where_the_app_cannot_start(environ, expected, monkeypatch, capsys, tmp_path: Path):
    from gateway import doctor

    for name in ("SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL", "SMS_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{CLOSED_PORT}/4")
    assert doctor.main() == 1
    assert expected in capsys.readouterr().out


def test_doctor_from_the_command_line_without_settings_names_the_one_to_set():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "doctor"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL  settings: SECRET_KEY is not set")
    assert "Traceback" not in done.stdout + done.stderr
