"""python -m bench [--quick] [--only PART ...]: start the gateway as in production, drive it, print tables.

Parts: confirm (confirm to SMS), worker, redis, webhook, ussd (report flow and floor), peer (Ijwi vs
the Node peer), servers, web (dashboards and case list over 1 million referrals).
Everything it starts is stopped at the end, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cluster, web
from bench.load import WrkMissingError, wrk_binary
from bench.parts import FULL, QUICK, Bench
from bench.report import Report, load_average
from bench.stack import POSTGRES_URL, SetupError, Stack

# In this order: the parts that time the worker come before the load parts leave it a backlog.
PARTS = ("confirm", "worker", "redis", "webhook", "ussd", "peer", "servers", "web")
# Parts that drive the servers with wrk.
WRK_PARTS = {"ussd", "peer", "servers"}


def _stop_on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def missing(parts: list[str]) -> list[str]:
    """One line for each thing the chosen parts need that this machine lacks (checked before starting)."""
    problems = []
    if WRK_PARTS & set(parts):
        try:
            wrk_binary()
        except WrkMissingError as exc:
            problems.append(str(exc))
    if "peer" in parts and not (shutil.which("node") and shutil.which("npm")):
        problems.append("node and npm are needed for the peer part: apt-get install nodejs npm (Node 18 or later)")
    return problems


def main(argv: list[str]) -> int:
    if "cluster" in argv:  # the scale-out rehearsal starts its own servers: bench/cluster.py
        return cluster.main([a for a in argv if a not in ("--only", "cluster")])
    parser = argparse.ArgumentParser(prog="./ijwi bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer levels (about 3 minutes)")
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART", help=f"one of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    chosen = args.only or [p for p in PARTS if not (args.quick and p == "servers")]
    parts = [p for p in PARTS if p in chosen]
    problems = missing(parts)
    if problems:
        for problem in problems:
            print(f"bench: {problem}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_term)
    workdir = Path(tempfile.mkdtemp(prefix="ijwi-bench-"))
    report = Report()
    stacks: list[Stack] = []
    failed = True
    began = time.monotonic()

    def sqlite_stack() -> Stack:
        found = [s for s in stacks if s.database == "sqlite"]
        if found:
            return found[0]
        sqlite = Stack(workdir / "sqlite", database="sqlite", say=stacks[0].say)
        stacks.append(sqlite)
        return sqlite.start()

    try:
        stack = Stack(workdir / "postgresql", say=lambda s: print(s, file=sys.stderr, flush=True))
        stacks.append(stack)
        stack.start()
        report.machine(profile.mode, POSTGRES_URL)
        bench = Bench(stack, report, profile)
        for part in parts:
            print(f"-- {part}", file=sys.stderr, flush=True)
            if part == "ussd":
                bench.ussd()
            elif part == "peer":
                bench.peer([stack, sqlite_stack()] if profile.peer_sqlite else [stack])
            elif part == "servers":
                bench.servers()
            elif part == "confirm":
                bench.confirm_to_sms()
            elif part == "worker":
                bench.worker([stack, sqlite_stack()] if profile.worker_sqlite else [stack])
            elif part == "redis":
                bench.redis_memory()
            elif part == "webhook":
                bench.webhook_cost()
            elif part == "web":
                web.run(report, stack.say)
        failed = False
    except SetupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        for each in stacks:
            each.stop()
        if report.parts:
            report.add(f"_{time.monotonic() - began:.0f} s in all; {load_average()} at the end._")
            print(f"written to {report.write()}", file=sys.stderr)
        if failed:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
