"""CPU per USSD hop, in process: whole report sessions through the app's WSGI callable,
against a "floor" Flask app in the same process doing one Redis GET and one SET.

    python -m bench.hop_profile [--sessions N] [--rounds R] [--profile] [--flow peer] [--database-url URL]

Redis: BENCH_REDIS_URL (default redis://127.0.0.1:6379/14, emptied); SQL: SQLite in a
temporary folder, or --database-url. --flow peer times the peer part's report path only.
The machine may be busy: compare the ratio, and run it more than once.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import create_engine, text

from bench.floor import create_app as create_floor_app
from bench.peer import REPORT_INPUTS
from bench.stack import BENCH_REPORTS_PER_HOUR, ensure_database
from gateway import migrate
from gateway.app import create_app
from gateway.config import Settings
from gateway.registry import imports
from gateway.runtime import Runtime

VOLUNTEER_PHONE = "+250788123456"
COMMUNITY_PHONE = "+250788765432"
# A volunteer's report from "My village", as the tests' volunteer dials it.
VOLUNTEER_INPUTS = ["1", "1", "1", "3", "1", "1", "Beaten at home, see house 12*B", "1"]
# A community caller's report in Kinyarwanda, paging districts, then sector, cell, village.
COMMUNITY_PLACES = ("Rusizi", "Nyakabuye", "Kamanu", "Site")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    if not status.startswith("200"):
        raise RuntimeError(f"answered {status}")


def post(app: WsgiApp, path: str, form: dict[str, str]) -> str:
    """One POST through the WSGI callable, as a server would make it."""
    return post_body(app, path, urlencode(form).encode())


def post_body(app: WsgiApp, path: str, body: bytes) -> str:
    """One POST of an urlencoded body through the WSGI callable."""
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "localhost:5000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    result = app(environ, _start_response)
    try:
        return b"".join(result).decode()
    finally:
        close = getattr(result, "close", None)
        if close:
            close()


def session_hops(phone: str, session_id: str, inputs: list[str]) -> list[dict[str, str]]:
    """The forms Africa's Talking posts for a session typing inputs one by one."""
    texts = [""] + ["*".join(inputs[: i + 1]) for i in range(len(inputs))]
    return [
        {"sessionId": session_id, "serviceCode": "*801#", "phoneNumber": phone, "networkCode": "63510", "text": t}
        for t in texts
    ]


def community_inputs(app: WsgiApp) -> list[str]:
    """Find the community caller's answers once, by reading the screens (paging with 98)."""
    inputs = ["1", "2", "2", "2", "2"]  # report, neglect, not urgent, 5-11, boy
    replies = [post(app, "/ussd", hop) for hop in session_hops(COMMUNITY_PHONE, "bench-discover", inputs)]
    screen = replies[-1]
    for name in COMMUNITY_PLACES:
        for _ in range(20):
            number = next((ln.split(". ")[0] for ln in screen.splitlines() if ln.endswith(". " + name)), None)
            answer = number or "98"
            inputs.append(answer)
            screen = post(app, "/ussd", session_hops(COMMUNITY_PHONE, "bench-discover", inputs)[-1])
            if number:
                break
        else:
            raise RuntimeError(f"{name} not found")
    inputs += ["1", "2", "1"]  # no words, no call back, send
    for hop in session_hops(COMMUNITY_PHONE, "bench-discover", inputs)[-3:]:
        end = post(app, "/ussd", hop)
    if not end.startswith("END "):
        raise RuntimeError(f"the community session did not end:\n{end}")
    return inputs


def build(redis_url: str, tmp: Path, database_url: str = "") -> tuple[Flask, Runtime]:
    """A gateway app as the tests make one: migrated SQLite (or database_url: a PostgreSQL
    database, its public schema recreated) with places, a volunteer."""
    if database_url:
        ensure_database(database_url)
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    settings = Settings(
        database_url=database_url or f"sqlite:///{tmp / 'bench.db'}",
        redis_url=redis_url,
        secret_key="bench-secret",
        encryption_key=Fernet.generate_key().decode(),
        sms_backend="console",
        log_level="WARNING",
        dev_mode=True,  # hops are posted in process, without a webhook token
        # One phone files every report here: no limit may turn a confirm into a refusal.
        reports_per_hour_volunteer=BENCH_REPORTS_PER_HOUR,
        reports_per_hour_unknown=BENCH_REPORTS_PER_HOUR,
    )
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    rt: Runtime = app.extensions["ijwi"]
    rt.redis.flushdb()
    imports.import_locations(rt)
    imports.import_volunteers(
        rt,
        "name,phone,district,sector,cell,village,language\n"
        f"Bench Volunteer,{VOLUNTEER_PHONE},Nyarugenge,Kimisagara,Katabaro,Ubumwe,en\n",
    )
    return app, rt


class Times:
    """Wall-clock and CPU (this thread's) seconds of requests; CPU is what the target is
    about and is less disturbed by the machine's other load."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __len__(self) -> int:
        return len(self.wall)

    def post(self, app: WsgiApp, path: str, form: dict[str, str]) -> str:
        body = urlencode(form).encode()  # the client's work, not timed
        w0, c0 = time.perf_counter(), time.thread_time()
        reply = post_body(app, path, body)
        self.cpu.append(time.thread_time() - c0)
        self.wall.append(time.perf_counter() - w0)
        return reply


def time_sessions(
    app: WsgiApp, flows: list[tuple[str, str, list[str]]], n: int, tag: str, times: Times, kinds: dict[str, Times]
) -> None:
    """Time every hop of n sessions of each flow (new session ids), into times and by kind
    of hop (first, middle, last) into kinds."""
    for i in range(n):
        for name, phone, inputs in flows:
            hops = session_hops(phone, f"bench-{tag}-{name}-{i}", inputs)
            for h, hop in enumerate(hops):
                kind = kinds["first" if h == 0 else "last" if h == len(hops) - 1 else "middle"]
                reply = times.post(app, "/ussd", hop)
                kind.wall.append(times.wall[-1])
                kind.cpu.append(times.cpu[-1])
                if not reply.startswith(("CON ", "END ")):
                    raise RuntimeError(reply)


def time_floor(app: WsgiApp, hops: int, times: Times) -> None:
    form = {"sessionId": "bench-floor", "serviceCode": "*801#", "phoneNumber": COMMUNITY_PHONE, "text": "1*1"}
    for _ in range(hops):
        times.post(app, "/ussd", form)


def _us(times: list[float], q: float | None = None) -> float:
    if q is None:
        return statistics.mean(times) * 1e6
    return sorted(times)[min(len(times) - 1, int(q * len(times)))] * 1e6


def _kinds() -> dict[str, Times]:
    return {"first": Times(), "middle": Times(), "last": Times()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50, help="sessions of each flow per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile (CPU time) one round of the flows")
    parser.add_argument(
        "--flow",
        choices=("mixed", "peer"),
        default="mixed",
        help="mixed: a volunteer's and a community caller's reports; peer: the peer part's 8-hop report only",
    )
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL database to use (its public schema is recreated)"
    )
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

    with tempfile.TemporaryDirectory() as tmp:
        app, rt = build(redis_url, Path(tmp), args.database_url)
        floor = create_floor_app(redis_url)
        if args.flow == "peer":
            flows = [("peer", VOLUNTEER_PHONE, list(REPORT_INPUTS))]
        else:
            flows = [
                ("volunteer", VOLUNTEER_PHONE, VOLUNTEER_INPUTS),
                ("community", COMMUNITY_PHONE, community_inputs(app)),
            ]
        time_sessions(app, flows, 3, "warm", Times(), _kinds())
        time_floor(floor, 200, Times())
        print("hops per session: " + ", ".join(f"{name} {len(inputs) + 1}" for name, _, inputs in flows))
        print("µs per request (mean, p99); ratio = floor/flow, the flow's share of the floor's throughput")
        head = f"{'flow':>11} {'floor':>11} {'ratio':>5}"
        print(f"{'':>5} | {'wall clock':^29} | {'CPU':^29}")
        print(f"{'round':>5} | {head} | {head}")
        ratios: list[float] = []
        kinds = _kinds()
        for r in range(args.rounds):
            # Session by session, each followed by as many floor requests: the machine's
            # other load falls on both alike.
            flow, base = Times(), Times()
            for i in range(args.sessions):
                time_sessions(app, flows, 1, f"r{r}-{i}", flow, kinds)
                time_floor(floor, len(flow) - len(base), base)
            ratios.append(_us(base.cpu) / _us(flow.cpu))
            print(
                f"{r:>5} | {_us(flow.wall):>5.0f} {_us(flow.wall, 0.99):>5.0f} {_us(base.wall):>5.0f} "
                f"{_us(base.wall, 0.99):>5.0f} {_us(base.wall) / _us(flow.wall):>5.2f} | "
                f"{_us(flow.cpu):>5.0f} {_us(flow.cpu, 0.99):>5.0f} {_us(base.cpu):>5.0f} "
                f"{_us(base.cpu, 0.99):>5.0f} {ratios[-1]:>5.2f}"
            )
        print(f"median CPU ratio floor/flow: {statistics.median(ratios):.2f}")
        for what in ("wall", "cpu"):
            parts = [
                f"{k} {_us(getattr(v, what)):.0f} (p99 {_us(getattr(v, what), 0.99):.0f})" for k, v in kinds.items()
            ]
            print(f"µs {what} by kind of hop: " + ", ".join(parts))
        if args.profile:
            profiler = cProfile.Profile(time.thread_time_ns, 1e-9)  # CPU time, as the table
            profiler.enable()
            time_sessions(app, flows, args.sessions, "profile", Times(), _kinds())
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
        rt.redis.flushdb()
        rt.db.engine.dispose()


if __name__ == "__main__":
    main()
