"""The bench's output: Markdown tables on stdout, kept for bench/out/latest.md."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

OUT = Path(__file__).with_name("out")


def _first_line(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not found"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def postgres_version(url: str) -> str:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            version = str(connection.execute(text("SHOW server_version")).scalar())
        engine.dispose()
        return version
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


class Report:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        print(text, flush=True)
        self.parts.append(text)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]], notes: str = "") -> None:
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        if notes:
            lines += ["", notes]
        self.add("\n".join(lines) + "\n")

    def machine(self, mode: str, postgres_url: str) -> None:
        import sys

        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.add(
            "\n".join(
                [
                    f"## Ijwi bench ({mode}), {now}",
                    "",
                    f"- CPU: {cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}",
                    f"- Python {sys.version.split()[0]}; {_first_line(['redis-server', '--version'])}",
                    f"- PostgreSQL {postgres_version(postgres_url)}; {_first_line(['wrk', '-v'])}",
                    f"- {load_average()} at the start (other work on the machine shows here)",
                    "",
                ]
            )
        )

    def write(self) -> Path:
        OUT.mkdir(exist_ok=True)
        target = OUT / "latest.md"
        target.write_text("\n".join(self.parts) + "\n", encoding="utf-8")
        return target


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, against its cores."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.0995 else f"{seconds * 1000:.1f} ms"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]
