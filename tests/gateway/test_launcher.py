"""./ijwi run starts the Procfile's processes through honcho; WORKERS sets how many workers."""

from __future__ import annotations

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
