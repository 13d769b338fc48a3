"""The command line as an operator meets it: progress, one-line errors, help that teaches.

Commands run through click's runner, and as a subprocess the way an operator types them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from gateway import runtime
from gateway.cli import overview
from gateway.cli.progress import progress, track
from gateway.config import Settings
from gateway.models import Volunteer

ROOT = Path(__file__).resolve().parents[2]
VOLUNTEERS_HEADER = "name,phone,district,sector,cell,village,language\n"
# Real villages of Nyarugenge (district, sector, cell, village).
VILLAGES = ["Nyarugenge,Kimisagara,Katabaro,Ubumwe", "Nyarugenge,Gitega,Akabahizi,Ubumwe"]


def _volunteers_csv(tmp_path: Path, count: int) -> Path:
    rows = [f"Volunteer {i},+25078{8000000 + i},{VILLAGES[i % 2]},rw" for i in range(count)]
    path = tmp_path / "volunteers.csv"
    path.write_text(VOLUNTEERS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _environment(settings: Settings | None = None, **extra: str) -> dict[str, str]:
    """An operator's environment: nothing of this test run's but what is given."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    if settings is not None:
        env.update(
            DATABASE_URL=settings.database_url,
            REDIS_URL=settings.redis_url,
            SECRET_KEY=settings.secret_key,
            ENCRYPTION_KEY=settings.encryption_key,
        )
    env.update(extra)
    return env


def _flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """python -m flask --app wsgi ARGS, from the repository, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def operator() -> Iterator[CliRunner]:
    """A runner of `flask --app ...` commands in this process, each building its own app
    from the environment the test gives; this process's runtime is restored after."""
    previous = runtime.install(None)
    yield CliRunner()
    runtime.install(previous)


def _run(runner: CliRunner, args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    cleared: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    return runner.invoke(FlaskGroup(), ["--app", "gateway.app:create_app()", *args], env={**cleared, **env})


# --- progress -------------------------------------------------------------------------


def test_a_large_import_shows_progress_lines_when_not_on_a_terminal(runner, rt, tmp_path):
    result = runner.invoke(args=["volunteers", "import", str(_volunteers_csv(tmp_path, 1000))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    progress_lines = [line for line in lines if line.startswith("volunteers: ") and "/1,000 (" in line]
    assert [line.split(" (")[0] for line in progress_lines] == [
        f"volunteers: {n:,}/1,000" for n in range(100, 1001, 100)
    ]
    assert all(line.endswith("/s") for line in progress_lines)
    assert lines[-1] == "volunteers: 1000 added, 0 updated, 0 unchanged"
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Volunteer.id))) == 1000


def test_a_small_import_says_only_its_summary(runner, tmp_path):
    result = runner.invoke(args=["volunteers", "import", str(_volunteers_csv(tmp_path, 3))])
    assert result.output == "volunteers: 3 added, 0 updated, 0 unchanged\n"


def test_an_import_run_as_a_subprocess_shows_progress_on_stderr_and_the_summary_on_stdout(settings, app, tmp_path):
    done = _flask("volunteers", "import", str(_volunteers_csv(tmp_path, 1000)), env=_environment(settings))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "volunteers: 1000 added, 0 updated, 0 unchanged\n"
    assert "volunteers: 500/1,000 (50%)" in done.stderr
    assert "volunteers: 1,000/1,000 (100%)" in done.stderr
    assert "Traceback" not in done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_a_bar_with_counts_and_rate():
    screen = _Terminal()
    with progress("volunteers", file=screen) as report:
        for done in range(0, 2001, 250):
            report(done, 2000)
    shown = screen.getvalue()
    assert "volunteers  [####################################]  2000/2000" in shown
    assert "/s" in shown


def test_track_reports_each_item_of_a_long_job_without_a_terminal(capsys):
    assert sum(track(range(5000), "re-encrypting")) == sum(range(5000))
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("re-encrypting: 500/5,000 (10%), ")
    assert err[-1].startswith("re-encrypting: 5,000/5,000 (100%), ")


# --- plain errors -----------------------------------------------------------------------

MENU = str(ROOT / "menus" / "trees" / "default.yaml")


def test_menus_validate_works_with_no_settings_at_all(tmp_path):
    done = _flask("menus", "validate", MENU, env=_environment())
    assert (done.returncode, done.stdout, done.stderr) == (0, "default.yaml: ok\n", "")


def test_without_settings_a_command_that_needs_them_says_what_to_set(tmp_path):
    done = _flask("users", "list", env=_environment())
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: SECRET_KEY is not set (any long random string). Set it in the environment (README, Settings); "
        "./ijwi fills in development values"
    ]


def test_debug_shows_the_traceback(tmp_path):
    done = _flask("--debug", "users", "list", env=_environment())
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "ConfigError: SECRET_KEY is not set" in done.stderr


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SCHEDULER_INTERVAL", "thirty", "Error: SCHEDULER_INTERVAL must be a whole number, not 'thirty'."),
        ("LOG_LEVEL", "loud", "Error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'."),
        ("DATABASE_URL", "postgres://db.example/ijwi", "Error: DATABASE_URL is not a database URL the gateway knows"),
        ("REDIS_URL", "127.0.0.1:6379", "Error: REDIS_URL must start with redis://, rediss://, unix://"),
        ("SMS_BACKEND", "pigeon", "Error: SMS_BACKEND must be 'africastalking' or 'console'."),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(operator, settings, setting, value, message):
    result = _run(operator, ["users", "list"], _environment(settings, **{setting: value}))
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(message)


def test_help_works_without_settings(operator):
    result = _run(operator, ["volunteers", "--help"], _environment())
    assert result.exit_code == 0
    assert "./ijwi volunteers import volunteers.csv" in result.output
    assert "import      Add or update volunteers from a CSV file, all or nothing." in result.output


def test_an_unreachable_database_is_one_line(operator, settings):
    env = _environment(settings, DATABASE_URL="postgresql+psycopg://ijwi:secret@127.0.0.1:7799/ijwi")
    result = _run(operator, ["users", "list"], env)
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(
        "Error: cannot use the database at postgresql+psycopg://ijwi:***@127.0.0.1:7799/ijwi"
    )
    assert "secret" not in result.output
    assert result.output.rstrip().endswith("check that it runs and that DATABASE_URL is right")


def test_a_database_without_tables_says_to_migrate(operator, settings, tmp_path):
    env = _environment(settings, DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    result = _run(operator, ["users", "list"], env)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: the database at sqlite:///{tmp_path / 'new.db'} lacks the gateway's tables (no such table: users): "
        "run `./ijwi db upgrade`"
    ]


def test_an_unreachable_redis_is_one_line(operator, settings, app, tmp_path):
    env = _environment(settings, REDIS_URL="redis://127.0.0.1:7798/0")
    result = _run(operator, ["volunteers", "import", str(_volunteers_csv(tmp_path, 2))], env)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: cannot reach Redis at redis://127.0.0.1:7798/0 (")
    assert result.output.rstrip().endswith("start it, or fix REDIS_URL")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["officers", "import"], None, "Error: File '{path}' does not exist: check the file's name and folder"),
        (["volunteers", "import"], b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "Error: {path} is not a text file in UTF-8"),
        (["locations", "import"], b"provinces: [Kigali]\n", "Error: nothing imported: given.file is not a place list"),
        (["menus", "validate"], None, "Error: File '{path}' does not exist: check the file's name and folder"),
        (
            ["officers", "import"],
            b"root:\n  en: Hello\n",
            "Error: nothing imported: given.file is not a CSV of officers (line 1: the header must be name,phone,",
        ),
    ],
)
def test_a_missing_or_wrong_file_is_one_line_with_status_2(runner, tmp_path, args, content, message):
    path = tmp_path / "given.file"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(args=[*args, str(path)])
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(message.format(path=path))


# --- help that teaches ------------------------------------------------------------------


def test_ijwi_help_lists_every_group_with_a_line_and_an_example():
    done = subprocess.run([str(ROOT / "ijwi"), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stdout.strip() == overview().strip()
    for group in ("db", "demo", "locations", "menus", "officers", "users", "ussd", "visits", "volunteers"):
        [line] = [line for line in done.stdout.splitlines() if line.startswith(f"  {group} ")]
        assert f"./ijwi {group} " in line


def test_every_group_help_has_an_example_and_one_line_per_command(app):
    from gateway.cli import GROUPS

    for group in GROUPS:
        result = app.test_cli_runner().invoke(args=[group.name or "", "--help"])
        assert result.exit_code == 0
        assert f"./ijwi {group.name} " in result.output
        commands = result.output.split("Commands:\n")[1].splitlines()
        assert len(commands) == len(group.commands)
        assert not [line for line in commands if line.endswith("...")], commands


def test_demo_seed_prints_commands_that_work_as_printed(runner):
    seeded = runner.invoke(args=["demo", "seed"])
    printed = [line[line.index("./ijwi ") :] for line in seeded.output.splitlines() if "./ijwi " in line]
    assert len(printed) == 2
    for command in printed:
        assert command.startswith("./ijwi ")
        result = runner.invoke(args=command.removeprefix("./ijwi ").split(), input="\n")
        assert result.exit_code == 0, result.output
        assert "(hung up)" in result.output


@pytest.mark.parametrize(
    ("extra", "status", "start"),
    [
        ({"SCHEDULER_INTERVAL": "soon"}, 2, "Error: SCHEDULER_INTERVAL must be a whole number, not 'soon'."),
        ({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:7799/ijwi"}, 1, "Error: cannot use the database at"),
    ],
)
def test_ijwi_commands_say_in_one_line_what_stops_them(settings, tmp_path, extra, status, start):
    env = _environment(settings, PYTHONPATH=str(ROOT), **extra)
    command = [sys.executable, "-m", "gateway.launcher", "--flask", "users", "list"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == status
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(start)


def test_log_level_debug_shows_the_traceback_too(operator):
    result = _run(operator, ["users", "list"], _environment(LOG_LEVEL="DEBUG"))
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "ConfigError"
    assert "SECRET_KEY is not set" in str(result.exception)


def test_a_server_without_settings_still_refuses_to_start():
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == "ijwi: cannot start: SECRET_KEY is not set (any long random string)"
