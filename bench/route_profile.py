"""The worker's cost per referral, in process: SQL statements and CPU of routing and alerting.

    python -m bench.route_profile [--referrals N] [--profile] [--statements]

Reports from registered volunteers are stored and handed over as the confirm hop does; then
they are routed from the inbox as a worker's inbox thread does, in this process, with the GIL
turns and the sender pool of `python -m workers`, sending through the official SDK to a local
server playing Africa's Talking. Prints SQL statements, CPU ms and wall ms per referral (CPU
of every thread of the process: routing, RQ and the sender pool).

Database: ROUTE_PROFILE_DATABASE_URL (PostgreSQL: its `public` schema is recreated on the
first run, the places kept after; or SQLite), Redis: ROUTE_PROFILE_REDIS_URL (default
redis://127.0.0.1:6379/14, emptied). The machine may be busy: CPU per referral is steadier
than wall time; run it more than once.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import event, func, inspect, select, text

from bench.report import OUT
from bench.stack import officers_csv, shipped_places, volunteers_csv
from gateway import migrate, runtime
from gateway.config import Settings
from gateway.db import Base
from gateway.models import Location, Message, Volunteer
from gateway.referrals import reports
from gateway.registry import imports
from gateway.runtime import WORKER_QUEUES, Runtime
from gateway.ussd.callers import Caller
from gateway.vocabulary import CallerKind
from workers import inbox, sender
from workers.__main__ import SWITCH_INTERVAL, Worker

ROOT = Path(__file__).resolve().parent.parent
STUB = (
    "import sys, time\nfrom bench.sms_stub import SmsStub\n"
    "stub = SmsStub().start()\nstub.delay = float(sys.argv[1])\nprint(stub.url, flush=True)\ntime.sleep(1e9)"
)
KEPT_TABLES = {"locations", "alembic_version"}
VOLUNTEERS = 400
ANSWERS = {"category": "neglect", "urgent": "no", "age_band": "12-17", "sex": "girl", "details": "Beaten at home"}


def prepare(url: str, redis_url: str) -> Runtime:
    """A runtime on an emptied database (migrated, places loaded once) with officers and volunteers."""
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        secret_key="route-profile",
        encryption_key=Fernet.generate_key().decode(),
        sms_backend="africastalking",
        at_username="ijwi-bench",
        at_api_key="bench-key",
        at_sender_id="IJWI",
    )
    rt = Runtime(settings)
    postgresql = rt.db.engine.dialect.name == "postgresql"
    has_places = inspect(rt.db.engine).has_table("locations")
    if has_places:
        with rt.db.reading() as session:
            has_places = bool(session.scalar(select(func.count(Location.id))))
    if not has_places:
        if postgresql:
            with rt.db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrate.upgrade(url)
        imports.import_locations(rt)
    migrate.upgrade(url)
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]
    with rt.db.engine.begin() as connection:
        if postgresql:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(text(f"DELETE FROM {table}"))
    rt.redis.flushdb()
    districts, villages = shipped_places()
    imports.import_officers(rt, officers_csv(districts))
    imports.import_volunteers(rt, volunteers_csv(villages, VOLUNTEERS))
    return rt


def store_reports(rt: Runtime, n: int) -> list[int]:
    """n volunteers' reports stored and queued as the confirm hop does; their ids."""
    rng = random.Random(n)
    with rt.db.reading() as session:
        volunteers = session.execute(select(Volunteer.id, Volunteer.phone, Volunteer.village_id)).all()
    ids = []
    for i in range(n):
        volunteer_id, phone, village_id = rng.choice(volunteers)
        caller = Caller(
            phone=phone,
            phone_hash=rt.crypto.lookup_hash(phone),
            kind=CallerKind.VOLUNTEER,
            lang="en",
            volunteer_id=volunteer_id,
            village_id=village_id,
        )
        answers = {**ANSWERS, "location": str(village_id)}
        values = reports.report_values(rt, caller, answers, "en", "bench")
        _, report_id = reports._store_once(rt, reports.Report, {**values, "session_id": f"profile-{i}-{time.time()}"})
        assert report_id is not None
        reports.queue_routing(rt, reports=[report_id])
        ids.append(report_id)
    return ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=200)
    parser.add_argument("--threads", type=int, default=32, help="sender pool threads (0: jobs send themselves)")
    parser.add_argument("--sms-delay", type=float, default=0.0, help="seconds the SMS API takes to answer")
    parser.add_argument("--switch", type=float, default=SWITCH_INTERVAL, help="sys.setswitchinterval (as the worker's)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where the CPU goes (cProfile; kept in bench/out/route_profile.prof)",
    )
    parser.add_argument("--statements", action="store_true", help="print the statements per referral by kind")
    args = parser.parse_args(argv)
    url = os.environ.get(
        "ROUTE_PROFILE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ijwi_route_profile"
    )
    redis_url = os.environ.get("ROUTE_PROFILE_REDIS_URL", "redis://127.0.0.1:6379/14")
    # The SMS API in its own process: its CPU is not the worker's.
    stub = subprocess.Popen(
        [sys.executable, "-c", STUB, str(args.sms_delay)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    switch = sys.getswitchinterval()
    # RQ's worker sets up its logger (handlers, level, propagation) once: put back as it was after.
    rq_log = logging.getLogger("rq.worker")
    rq_log_state = (list(rq_log.handlers), rq_log.level, rq_log.propagate)
    try:
        assert stub.stdout is not None
        stub_url = stub.stdout.readline().strip()
        sys.setswitchinterval(args.switch)
        rt = prepare(url, redis_url)
        rt.settings = replace(rt.settings, at_api_base_url=stub_url)
        previous = runtime.install(rt)
        try:
            _measure(rt, args)
        finally:
            runtime.install(previous)
            rt.db.engine.dispose()
    finally:
        stub.terminate()
        stub.wait()
        sys.setswitchinterval(switch)
        rq_log.handlers[:], rq_log.level, rq_log.propagate = rq_log_state


def _measure(rt: Runtime, args: argparse.Namespace) -> None:
    # A first referral outside the count: connections, caches of places and texts warmed.
    store_reports(rt, 1)
    _work(rt, args.threads)
    with rt.db.reading() as session:
        warm = session.scalar(select(func.count(Message.id)).where(Message.status == "sent")) or 0
    store_reports(rt, args.referrals)

    statements: Counter[str] = Counter()

    @event.listens_for(rt.db.engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements[_kind(statement)] += 1

    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    _work(rt, args.threads)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    event.remove(rt.db.engine, "before_cursor_execute", count)
    n = args.referrals
    with rt.db.reading() as session:
        sent = (session.scalar(select(func.count(Message.id)).where(Message.status == "sent")) or 0) - warm
    total = sum(statements.values())
    print(
        f"{n} referrals, {sent} alerts sent: "
        f"{total / n:.1f} SQL statements, {cpu / n * 1000:.2f} ms CPU, {wall / n * 1000:.2f} ms wall per referral"
    )
    if args.statements:
        for kind, count_ in statements.most_common():
            print(f"  {count_ / n:6.2f}  {kind}")
    if profiler:
        OUT.mkdir(exist_ok=True)
        profiler.dump_stats(OUT / "route_profile.prof")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
        print(out.getvalue())


def _work(rt: Runtime, threads: int) -> None:
    pool = sender.BackgroundSender(threads) if threads else None
    sender.install(pool)
    try:
        inbox.route(rt)  # as the worker's inbox thread does
        # Anything the routing left to jobs (none unless a routing failed), as the worker's RQ loop runs it.
        Worker(list(WORKER_QUEUES), connection=rt.rq_redis).work(burst=True, logging_level="WARNING")
        if pool:
            pool.drain()
    finally:
        if pool:
            pool.shutdown()
        sender.install(None)


def _kind(statement: str) -> str:
    """A statement's kind: its verb and table(s), without values."""
    words = " ".join(statement.split())[:300]
    verb = words.split(" ", 1)[0].upper()
    tables = re.findall(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)", words, re.IGNORECASE)
    return f"{verb} {','.join(dict.fromkeys(tables))}" if tables else words[:120]


if __name__ == "__main__":
    main()
