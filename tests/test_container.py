"""The container image, as far as it can be checked without building it (no Docker here): its
entrypoint runs exactly the Procfile's commands, and the Dockerfile installs and copies what they need."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the Procfile's processes need inside the image.
NEEDED = ("Procfile", "wsgi.py", "requirements.txt", "docker-entrypoint.sh", "gateway", "menus", "workers")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines if line)}


@pytest.fixture
def stub_path(tmp_path: Path) -> str:
    """A PATH whose Procfile programs (and flask) print their argv instead of running."""
    for program in {line.split()[0] for line in procfile().values()} | {"flask"}:
        stub = tmp_path / program
        stub.write_text('#!/bin/sh\nprintf "%s\\n" "$(basename "$0")" "$@"\n')
        stub.chmod(0o755)
    return f"{tmp_path}:/usr/bin:/bin"


@pytest.mark.parametrize("process", ["web", "worker", "release"])
def test_the_entrypoint_runs_the_procfiles_command_of_each_process(process, stub_path):
    command = procfile()[process]
    result = subprocess.run(
        ["sh", "docker-entrypoint.sh", process],
        cwd=ROOT,
        env={"PATH": stub_path, "PORT": "5123"},
        capture_output=True,
        text=True,
        check=True,
    )
    expected = shlex.split(re.sub(r"\$\{PORT(:-[^}]*)?\}", "5123", command))
    assert result.stdout.splitlines() == expected
    if process == "web":
        assert any("5123" in token for token in expected)


def test_the_web_listens_on_5000_when_no_port_is_given(stub_path):
    result = subprocess.run(
        ["sh", "docker-entrypoint.sh", "web"], cwd=ROOT, env={"PATH": stub_path}, capture_output=True, text=True
    )
    assert any("5000" in token for token in result.stdout.splitlines())


def test_any_other_command_runs_as_given(stub_path):
    result = subprocess.run(
        ["sh", "docker-entrypoint.sh", "flask", "--app", "wsgi", "doctor"],
        cwd=ROOT,
        env={"PATH": stub_path},
        capture_output=True,
        text=True,
    )
    assert result.stdout.splitlines() == ["flask", "--app", "wsgi", "doctor"]


def test_the_dockerfile_installs_the_pinned_requirements_and_starts_the_web_by_default():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert "RUN pip install -r requirements.txt" in instructions
    assert 'ENTRYPOINT ["./docker-entrypoint.sh"]' in instructions
    assert instructions[-1] == 'CMD ["web"]'
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] != "root"


def test_the_image_gets_the_code_but_not_local_state():
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    for needed in NEEDED:
        assert (ROOT / needed).exists()
        assert not any(fnmatch.fnmatch(needed, p) for p in patterns), needed
    for local in (".venv", "instance", ".git"):
        assert local in patterns
