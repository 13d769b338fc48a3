"""USSD load: wrk and bench/ussd.lua walking whole report sessions, one connection per thread."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).with_name("ussd.lua")
_FIELDS = re.compile(r"(\w+)=(\d+)")


class WrkMissingError(RuntimeError):
    """wrk is not installed."""


@dataclass(frozen=True)
class LoadResult:
    target: str
    concurrency: int
    seconds: float
    hops: int
    sessions: int
    p50_ms: float
    p99_ms: float
    errors: int  # non-200, not CON/END, a path that ended early or late, socket errors
    first_bad: tuple[str, ...] = ()  # the first bad reply of each connection that had one

    @property
    def hops_per_s(self) -> float:
        return self.hops / self.seconds

    @property
    def sessions_per_s(self) -> float:
        return self.sessions / self.seconds


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError("wrk is not installed: apt-get install wrk")
    return found


def run_wrk(
    target: str, base_url: str, path: str, datafile: Path, concurrency: int, seconds: int, run_id: int, mode: str
) -> LoadResult:
    """wrk -t C -c C for seconds against base_url + path; the Lua script's counters."""
    argv = [wrk_binary(), "-t", str(concurrency), "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(LUA), base_url, "--", str(datafile), path, str(run_id), mode, str(concurrency)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH ")), None)
    if result.returncode or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    values = {k: int(v) for k, v in _FIELDS.findall(line)}
    return LoadResult(
        target=target,
        concurrency=concurrency,
        seconds=values["duration_us"] / 1e6,
        hops=values["requests"],
        sessions=values["sessions"],
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        errors=values["errors"] + values["wrong_end"] + values["socket_errors"],
        first_bad=tuple(x.removeprefix("BAD ") for x in result.stdout.splitlines() if x.startswith("BAD ")),
    )
