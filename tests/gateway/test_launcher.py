"""./ijwi run starts the Procfile's processes through honcho; WORKERS sets how many workers."""

from __future__ import annotations

import os

import pytest

from gateway.launcher import honcho_args


def test_one_web_and_one_worker_by_default():
    assert honcho_args([], {}) == ["start", "-f", "Procfile", "-c", "worker=1", "web", "worker"]


def test_workers_sets_how_many_worker_processes_run():
    assert honcho_args([], {"WORKERS": " 6 "})[3:5] == ["-c", "worker=6"]


def test_named_processes_are_kept():
    assert honcho_args(["web"], {"WORKERS": "2"})[-1:] == ["web"]


@pytest.mark.parametrize("bad", ["0", "-1", "two", ""])
def test_a_bad_workers_setting_is_refused_with_a_message(bad):
    with pytest.raises(SystemExit, match="WORKERS must be a whole number"):
        honcho_args([], {"WORKERS": bad})


def test_run_without_a_webhook_token_is_development_mode_and_says_so(tmp_path, monkeypatch):
    from gateway import launcher

    monkeypatch.chdir(tmp_path)
    for name in ("WEBHOOK_TOKEN", "IJWI_DEV", "SECRET_KEY", "ENCRYPTION_KEY"):
        monkeypatch.setenv(name, "")  # so that whatever the launcher sets is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:7199/0")
    warnings = launcher.development_environment()
    assert any(w.startswith("NEW KEYS were made") for w in warnings)
    assert any(w.startswith("DEVELOPMENT MODE (IJWI_DEV=1)") for w in warnings)
    assert os.environ["IJWI_DEV"] == "1"
    assert oct((tmp_path / "instance").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "instance" / "dev-keys.json").stat().st_mode & 0o777) == "0o600"
    # The second time: the same keys, no warning about keys; a token set: no development mode.
    monkeypatch.delenv("IJWI_DEV")
    monkeypatch.setenv("WEBHOOK_TOKEN", "t")
    assert launcher.development_environment() == []
    assert "IJWI_DEV" not in os.environ
