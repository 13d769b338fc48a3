"""Progress of a long command: click's bar on a terminal, plain lines otherwise (CI, logs).

    with progress("volunteers") as report:          # report(done, total), as often as you like
        import_volunteers(rt, text, report)

    for row in track(rows, "re-encrypting"):         # or wrap what you iterate over
        ...

Progress goes to stderr, so stdout keeps only the command's result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO, TypeVar

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

T = TypeVar("T")
# report(done, total): how much of how much is done (total 0 when not known).
ProgressCallback = Callable[[int, int], None]

# Without a terminal: a line at every tenth of the work when there are at least this many
# items (a file of a few rows says nothing but its summary)...
PLAIN_MIN_TOTAL = 1000
# ...and a line at least this often (seconds) while the work goes on, whatever its size.
PLAIN_EVERY = 5.0


def _rate(done: int, started: float) -> str:
    elapsed = time.monotonic() - started
    return f"{done / elapsed:,.0f}/s" if elapsed > 0 else ""


class _Bar:
    """click's progress bar with counts and rate, made once the total is known."""

    def __init__(self, label: str, out: TextIO) -> None:
        self.label, self.out = label, out
        self.started = time.monotonic()
        self.bar: ProgressBar[int] | None = None
        self.done = 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(total, 1),
                label=self.label,
                show_pos=True,
                item_show_func=lambda _: _rate(self.done, self.started),
                file=self.out,
            )
            self.bar.__enter__()
        if done > self.done:
            step, self.done = done - self.done, done
            self.bar.update(step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()


class _Lines:
    """Plain lines: at each tenth of a large job, and every PLAIN_EVERY seconds."""

    def __init__(self, label: str, out: TextIO) -> None:
        self.label, self.out = label, out
        self.started = self.last_at = time.monotonic()
        self.last_tenth = 0
        self.last_done = 0

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        tenth = done * 10 // total if total else 0
        big_step = total >= PLAIN_MIN_TOTAL and tenth > self.last_tenth
        long_wait = now - self.last_at >= PLAIN_EVERY and done > self.last_done
        if not (big_step or long_wait):
            return
        self.last_tenth, self.last_done, self.last_at = tenth, done, now
        of = f"/{total:,} ({done * 100 // total}%)" if total else ""
        click.echo(f"{self.label}: {done:,}{of}, {_rate(done, self.started)}", file=self.out)

    def close(self) -> None:
        pass


@contextmanager
def progress(label: str, file: TextIO | None = None) -> Iterator[ProgressCallback]:
    """A report(done, total) callback showing progress on file (default: stderr)."""
    out = file or sys.stderr
    shown = _Bar(label, out) if out.isatty() else _Lines(label, out)
    try:
        yield shown.update
    finally:
        shown.close()


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """items, one by one, showing progress (total: len(items) when it has one)."""
    if total is None:
        total = len(items) if isinstance(items, Sized) else 0
    with progress(label) as report:
        done = 0
        for item in items:
            report(done, total)
            yield item
            done += 1
        report(done, total)
