"""Each part of the bench: drives the running stack (or the app in process) and adds its table."""

from __future__ import annotations

import re
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import redis
from rq import Queue
from sqlalchemy import func, select

from bench import peer, webhook_cost
from bench.driver import Caller
from bench.load import LoadResult, run_wrk
from bench.paths import mixed_paths, write_data_file
from bench.report import Report, ms, percentile
from bench.stack import VOLUNTEERS, WEBHOOK_TOKEN, Stack, free_port, machine_busy_seconds, volunteer_phone, web_argv
from gateway import keys, migrate
from gateway.models import Message
from gateway.models import Report as ReportRow
from gateway.registry import imports
from gateway.runtime import QUEUE_NAME, Runtime
from gateway.ussd import callers
from gateway.vocabulary import MessageStatus

# The share of report sessions made by registered volunteers (the rest: community callers).
VOLUNTEER_SHARE = 0.5
# Targets of issue 5, as ratios to the floor measured in the same run.
THROUGHPUT_TARGET = 0.70
P99_TARGET = 2.0
CONFIRM_TO_SMS_TARGET = 1.0
# The app's server line is the Procfile's; the floor's app instead of wsgi:app.
FLOOR_APP = "bench.floor_wsgi:app"
# Server lines tried by the servers part, written as the Procfile's web line is.
GUNICORN = "gunicorn wsgi:app --bind 0.0.0.0:$PORT --timeout 30 --keep-alive 5"
GRANIAN = "granian --interface wsgi --host 0.0.0.0 --port $PORT --no-ws --http 1 --log-level warning"
SERVER_LINES = {
    "gunicorn sync, 2 workers": f"{GUNICORN} --workers 2 --worker-class sync",
    "gunicorn gthread, 2 workers x 4 threads": f"{GUNICORN} --workers 2 --threads 4 --worker-class gthread",
    "gunicorn gthread, 3 workers x 4 threads": f"{GUNICORN} --workers 3 --threads 4 --worker-class gthread",
    "granian, 2 workers x 1 thread": f"{GRANIAN} --workers 2 --blocking-threads 1 wsgi:app",
    "granian, 2 workers x 2 threads": f"{GRANIAN} --workers 2 --blocking-threads 2 wsgi:app",
    "granian, 2 workers x 4 threads": f"{GRANIAN} --workers 2 --blocking-threads 4 wsgi:app",
    "granian, 3 workers x 2 threads": f"{GRANIAN} --workers 3 --blocking-threads 2 wsgi:app",
}
_runs = iter(range(1, 10**6))
# Message statuses of an SMS not yet recorded as sent (or refused).
UNSENT = (MessageStatus.QUEUED, MessageStatus.SENDING)
# Seconds the SMS API takes to answer in the worker part's last row (a provider across the internet).
SLOW_SMS_API = 0.3
# New reports a second in the confirm part's row with that SMS API (issue 15: p95 < 1 s at 20/s).
CONFIRM_SLOW_RATE = 20.0


@dataclass(frozen=True)
class Profile:
    """How long and how hard each part drives (--quick or full)."""

    mode: str
    levels: tuple[int, ...]
    seconds: int
    server_level: int
    server_seconds: int
    confirm_rates: tuple[float, ...]
    confirm_seconds: int
    worker_referrals: int
    worker_sqlite: bool
    redis_sessions: int
    webhook_sessions: int
    tree_factors: tuple[int, ...]
    village_factors: tuple[int, ...]
    # The peer part: connection levels, seconds per run, rounds of (Ijwi, peer, floor) per level.
    peer_levels: tuple[int, ...] = (4, 16)
    peer_seconds: int = 10
    peer_rounds: int = 3
    peer_sqlite: bool = False


QUICK = Profile("quick", (4, 16), 8, 16, 8, (1, 6), 8, 60, False, 300, 10, (1, 10, 100), (10,), (4, 16), 5, 2)
FULL = Profile(
    "full", (4, 16, 64), 20, 16, 20, (1, 6, 12), 20, 300, True, 2000, 40, (1, 10, 100), (10,), (4, 16), 10, 3, True
)
# The process groups whose CPU the peer part counts (Redis: the one server Ijwi and the peer share).
PEER_PROCESSES = ("web", "worker", "peer", "floor", "redis")
# Targets against the Node peer (issue 15), in the same run: at least its hops/s, at most its p99.
PEER_THROUGHPUT_TARGET = 1.0
# Seconds of the untimed run each server of the peer part gets before the timed ones.
PEER_WARM_UP_SECONDS = 3
PEER_P99_TARGET = 1.0


class Bench:
    """The shared state of one run: the stack, the report, the generated sessions."""

    def __init__(self, stack: Stack, report: Report, profile: Profile) -> None:
        self.stack = stack
        self.report = report
        self.profile = profile
        self.rt = Runtime(stack.settings())
        tree = self.rt.menus.active()
        home = callers.profile(self.rt, volunteer_phone(0)).home
        assert home is not None, "the bench's volunteers are not registered"
        self.paths = mixed_paths(tree, self.rt.places, 300, VOLUNTEER_SHARE, home, tree.languages[0])
        self.datafile = stack.workdir / "sessions.tsv"
        self.phones = [volunteer_phone(i) for i in range(VOLUNTEERS)]
        write_data_file(self.datafile, self.paths, self.phones)

    @property
    def hops_per_session(self) -> float:
        return sum(len(p.inputs) + 1 for p in self.paths) / len(self.paths)

    def clear_drafts(self) -> None:
        """Forget the drafts of sessions a timed run cut short (else the phone's next dial offers to resume)."""
        pattern = keys.draft("*")
        batch = list(self.rt.redis.scan_iter(match=pattern, count=1000))
        for i in range(0, len(batch), 500):
            self.rt.redis.delete(*batch[i : i + 500])

    def load(
        self,
        target: str,
        concurrency: int,
        seconds: int,
        url: str | None = None,
        datafile: Path | None = None,
        mode: str | None = None,
    ) -> LoadResult:
        """wrk against the gateway (or another server at url), the sessions of datafile."""
        mode = mode or ("floor" if target == "floor" else "app")
        # A hop still in flight when the last run stopped may have left a draft after that run's clean-up.
        time.sleep(1)
        self.clear_drafts()
        result = run_wrk(
            target,
            url or self.stack.web_url,
            f"/ussd?token={WEBHOOK_TOKEN}",
            datafile or self.datafile,
            concurrency,
            seconds,
            next(_runs),
            mode,
        )
        self.clear_drafts()
        for bad in result.first_bad[:3]:
            print(f"   {target}, {concurrency} connections: {bad}", file=sys.stderr, flush=True)
        return result

    def drain(self, timeout: float = 180) -> None:
        """Wait until the worker has routed every report and done every queued job (of earlier parts)."""
        jobs = Queue(QUEUE_NAME, connection=self.rt.rq_redis)
        deadline = time.monotonic() + timeout
        unrouted = select(func.count(ReportRow.id)).where(ReportRow.routed_at.is_(None))

        def busy() -> bool:
            if jobs.count or jobs.started_job_registry.count or self.rt.redis.llen(keys.routing_inbox()):
                return True
            with self.rt.db.reading() as session:
                return bool(session.scalar(unrouted))  # taken from the inbox, being routed

        while busy() and time.monotonic() < deadline:
            time.sleep(0.2)
        if jobs.count:
            print(f"   the worker still has {jobs.count} jobs queued", file=sys.stderr, flush=True)

    def caller(self) -> Caller:
        return Caller(self.stack.web_url, WEBHOOK_TOKEN, self.phones, next(_runs))

    # --- parts -----------------------------------------------------------------------

    def ussd(self) -> None:
        """The floor at several concurrency levels, then whole report sessions at the same levels."""
        p = self.profile
        self.drain()
        # The floor first, on a quiet machine; then the flow, with its worker routing and sending
        # the reports it makes, as in production.
        self.stack.start_web(app=FLOOR_APP)
        try:
            floor = [self.load("floor", c, p.seconds) for c in p.levels]
        finally:
            self.stack.start_web()
        flow = [self.load("report flow", c, p.seconds) for c in p.levels]
        # The same flow with the worker paused shows how much of the gap is the web's own.
        self.stack.stop_worker()
        try:
            web_alone = [self.load("report flow, worker paused", c, p.seconds) for c in p.levels]
        finally:
            self.stack.start_worker()
        rows = []
        for f, b in zip(flow, floor, strict=True):
            share = f.hops_per_s / b.hops_per_s if b.hops_per_s else 0.0
            times = f.p99_ms / b.p99_ms if b.p99_ms else float("inf")
            ok = share >= THROUGHPUT_TARGET and times <= P99_TARGET and not f.errors and not b.errors
            rows.append(
                [
                    f.concurrency,
                    f"{f.sessions_per_s:.1f}",
                    f"{f.hops_per_s:.0f}",
                    f"{f.p50_ms:.1f} / {f.p99_ms:.1f}",
                    f"{b.hops_per_s:.0f}",
                    f"{b.p50_ms:.1f} / {b.p99_ms:.1f}",
                    f"{share:.0%}",
                    f"{times:.1f}x",
                    f"{f.errors} / {b.errors}",
                    "PASS" if ok else "FAIL",
                ]
            )
        self.report.table(
            "USSD: whole report sessions vs the floor",
            [
                "connections",
                "sessions/s",
                "hops/s",
                "hop p50 / p99 (ms)",
                "floor hops/s",
                "floor p50 / p99 (ms)",
                f"throughput vs floor (>= {THROUGHPUT_TARGET:.0%})",
                f"p99 vs floor (<= {P99_TARGET:.0f}x)",
                "errors (flow / floor)",
                "targets",
            ],
            rows,
            f"{p.seconds} s per level; wrk, one connection per thread; {len(self.paths)} paths "
            f'({VOLUNTEER_SHARE:.0%} volunteers on "My village", the rest paging to a village), '
            f"{self.hops_per_session:.1f} hops per session on average. The floor: a Flask endpoint doing one Redis "
            "GET and one SET, on the same server line, measured first; the flow runs with its worker routing "
            "and alerting the reports it makes. A run with errors is not valid.",
        )
        self.report.table(
            "USSD: where the gap to the floor is",
            ["connections", "floor hops/s", "flow, worker paused", "flow, worker running"],
            [
                [
                    b.concurrency,
                    f"{b.hops_per_s:.0f}",
                    f"{w.hops_per_s:.0f} ({w.hops_per_s / b.hops_per_s:.0%})",
                    f"{f.hops_per_s:.0f} ({f.hops_per_s / b.hops_per_s:.0%})",
                ]
                for b, w, f in zip(floor, web_alone, flow, strict=True)
                if b.hops_per_s
            ],
            "Worker paused: the web's own cost per hop (state, engine, the confirm hop's SQL and enqueue) "
            "against the floor's; worker running: the reports' routing and SMS share the same cores, as in "
            "production. The paused worker's backlog is drained before the next part.",
        )
        self.drain()

    def peer(self, stacks: list[Stack]) -> None:
        """Ijwi (worker running), the Node peer and the floor, driven by the same wrk script with the
        same 8-hop report session, interleaved round by round at each level."""
        p = self.profile
        folder = peer.prepare()
        datafile = self.stack.workdir / "peer-sessions.tsv"
        write_data_file(datafile, [peer.report_path()], self.phones)
        rows = []
        for stack in stacks:
            rows += self._peer_rows(stack, folder, datafile)
        self.report.table(
            f"USSD: Ijwi vs the Node peer (same 8-hop report, {p.peer_rounds} x {p.peer_seconds} s interleaved runs)",
            [
                "database",
                "connections",
                "Ijwi hops/s",
                "Ijwi p50 / p99 (ms)",
                "peer hops/s",
                "peer p50 / p99 (ms)",
                f"hops/s vs peer (>= {PEER_THROUGHPUT_TARGET:.1f}x)",
                f"p99 vs peer (<= {PEER_P99_TARGET:.1f}x)",
                "floor hops/s",
                f"Ijwi vs floor (>= {THROUGHPUT_TARGET:.0%})",
                "bad replies (Ijwi / peer / floor)",
                "CPU µs per hop: Ijwi web / worker / Redis / PostgreSQL; peer / Redis; floor",
                "machine CPU µs per hop (Ijwi / peer)",
                "targets",
            ],
            rows,
            "Each connection walks whole sessions of the peer's report path (`1 1 1 2 1 1 <words> 1`, 9 requests) "
            "as Africa's Talking posts them, every reply checked (`END` exactly at the last hop). Ijwi: the "
            "Procfile's web line and worker (a registered volunteer's report: stored in SQL, queued, routed and "
            "alerted while the load runs); the peer: `node app.js` (express, ussd-menu-builder 1.2.0, ioredis) on "
            "the same Redis server; the floor: a Flask endpoint doing one Redis GET and SET on the Procfile's "
            f"web line. After one untimed {PEER_WARM_UP_SECONDS} s run of each, runs rotate Ijwi, peer, floor; "
            "the worker is frozen (SIGSTOP, backlog kept) while the peer and the floor run, so its backlog "
            "takes no CPU from them. Figures are medians of the runs "
            "(hops/s: lowest-highest in brackets). CPU per hop: user + system time during the run over its hops, "
            "which a busy machine disturbs less than hops/s: of each server's own processes (Ijwi's web, its "
            "worker), of the Redis server both use, of PostgreSQL's server processes (0 on SQLite, whose work is "
            "in Ijwi's own), and of the whole machine (wrk and the kernel too): on 2 cores, a server that needs "
            "twice the machine's CPU for a hop serves at most half the hops.",
        )

    def _peer_rows(self, stack: Stack, folder: Path, datafile: Path) -> list[list[object]]:
        p = self.profile
        if stack is self.stack:
            self.drain()
        port, floor_port = free_port(), free_port()
        peer_url = stack.start_server(
            "peer", peer.argv(), port, cwd=folder, env=peer.env(port, stack.redis_url.rsplit("/", 1)[0] + "/2")
        )
        floor_url = stack.start_server("floor", web_argv(floor_port, app=FLOOR_APP), floor_port)
        bench = self if stack is self.stack else Bench(stack, self.report, p)
        rows: list[list[object]] = []
        try:
            # One untimed run of each server first: what each does once (Ijwi's workers load the places
            # and cache the callers' profiles, node compiles) counts in no timed run's CPU per hop.
            bench.load("Ijwi", max(p.peer_levels), PEER_WARM_UP_SECONDS, datafile=datafile)
            bench.load("peer", max(p.peer_levels), PEER_WARM_UP_SECONDS, peer_url, datafile, "app")
            bench.load("floor", max(p.peer_levels), PEER_WARM_UP_SECONDS, floor_url, datafile, "floor")
            bench.drain()
            for level in p.peer_levels:
                runs: dict[str, list[LoadResult]] = {"ijwi": [], "peer": [], "floor": []}
                cpu: dict[str, list[dict[str, float]]] = {"ijwi": [], "peer": [], "floor": []}
                order = ["ijwi", "peer", "floor"]
                for r in range(p.peer_rounds):
                    for target in order[r % 3 :] + order[: r % 3]:
                        before = _cpu_used(stack)
                        if target == "ijwi":
                            stack.resume_worker()
                            result = bench.load("Ijwi", level, p.peer_seconds, datafile=datafile)
                        else:
                            stack.pause_worker()
                            url = peer_url if target == "peer" else floor_url
                            mode = "app" if target == "peer" else "floor"
                            result = bench.load(target, level, p.peer_seconds, url, datafile, mode)
                        runs[target].append(result)
                        after = _cpu_used(stack)
                        cpu[target].append({k: (after[k] - before[k]) / max(1, result.hops) for k in after})
                stack.resume_worker()
                rows.append(_peer_row(stack.database, level, runs, cpu))
        finally:
            stack.resume_worker()
            stack.stop_process("peer")
            stack.stop_process("floor")
        return rows

    def confirm_to_sms(self) -> None:
        """Sessions at fixed rates; from the confirm screen's answer to the first alert reaching the SMS API
        (answering at once, then as far away as a provider across the internet)."""
        stub = self.stack.stub
        assert stub is not None
        rows = []
        self.drain()
        runs = [(rate, 0.0) for rate in self.profile.confirm_rates] + [(CONFIRM_SLOW_RATE, SLOW_SMS_API)]
        for rate, delay in runs:
            stub.clear()
            stub.delay = delay
            cpu = self.stack.cpu_seconds("worker")
            started = time.monotonic()
            try:
                walked = self.caller().at_rate(self.paths, rate, max(1, int(rate * self.profile.confirm_seconds)))
                first = self._wait_for_alerts(stub, {w.reference for w in walked})
            finally:
                stub.delay = 0.0
            # The worker's CPU over the run: per report, and its share of one core (starved when low).
            cpu, took = self.stack.cpu_seconds("worker") - cpu, time.monotonic() - started
            delays = [first[w.reference] - w.confirmed_at for w in walked if w.reference in first]
            p95 = percentile(delays, 0.95)
            rows.append(
                [
                    f"{rate:g}/s",
                    f"{delay * 1000:.0f} ms",
                    len(walked),
                    len(walked) - len(delays),
                    ms(percentile(delays, 0.5)),
                    ms(p95),
                    f"{cpu / max(1, len(walked)) * 1000:.1f} ms, {cpu / took:.0%} of a core",
                    "PASS" if delays and len(delays) == len(walked) and p95 < CONFIRM_TO_SMS_TARGET else "FAIL",
                ]
            )
            self.clear_drafts()
            self.drain()
        self.report.table(
            "Confirm to SMS (one worker)",
            [
                "sessions started",
                "SMS API answers in",
                "reports",
                "no SMS",
                "p50",
                "p95",
                "worker CPU per report",
                f"p95 < {CONFIRM_TO_SMS_TARGET:g} s",
            ],
            rows,
            "From the answer to the confirm hop (the END screen with the reference) to the first alert of that "
            "reference reaching the local SMS API; whole sessions walked over HTTP at a fixed rate. The last row: "
            "the SMS API waits before each answer, as one across the internet does. Worker CPU: the worker "
            "process's over the run (sessions and alerts), per report and as a share of one core.",
        )

    @staticmethod
    def _wait_for_alerts(stub: object, references: set[str], timeout: float = 20) -> dict[str, float]:
        """reference -> arrival time of its first alert, waiting until each has one (or timeout)."""
        deadline = time.monotonic() + timeout
        first: dict[str, float] = {}
        while True:
            first = {}
            for arrival in stub.arrivals():  # type: ignore[attr-defined]
                for ref in re.findall(r"\b\d{7}\b", arrival.message):
                    if ref in references and (ref not in first or arrival.at < first[ref]):
                        first[ref] = arrival.at
            if len(first) == len(references) or time.monotonic() > deadline:
                return first
            time.sleep(0.05)

    def worker(self, stacks: list[Stack]) -> None:
        """Stop the worker, queue N referrals' reports through the web, start one worker and time it."""
        n = self.profile.worker_referrals
        rows = [self._worker_rate(stack, n) for stack in stacks]
        # The same with the SMS API as far away as a provider across the internet.
        rows.append(self._worker_rate(self.stack, n, SLOW_SMS_API))
        self.report.table(
            "Worker throughput (one `python -m workers` process)",
            [
                "database",
                "SMS API answers in",
                "referrals",
                "alerts",
                "referrals routed/s",
                "alerts sent/s",
                "routing done",
                "last alert",
                "worker CPU per referral",
            ],
            rows,
            "Reports made by whole USSD sessions while the worker was frozen (warm: it had routed one report "
            "before); the clock starts when it is let go. Each referral alerts its district's on-duty social worker "
            "and psychologist. The last row: the local SMS API waits before each answer, as a request across "
            f"the internet does; the worker sends on its {self.stack.settings().sms_send_threads} sender threads, "
            "each keeping its connection open.",
        )

    def _worker_rate(self, stack: Stack, n: int, sms_delay: float = 0.0) -> list[object]:
        stub = stack.stub
        assert stub is not None
        stub.delay = sms_delay
        rt = self.rt if stack is self.stack else Runtime(stack.settings())
        if stack is self.stack:
            self.drain()
        stack.stop_worker()
        stub.clear()
        caller = Caller(stack.web_url, WEBHOOK_TOKEN, self.phones, next(_runs))
        # A warm worker, as one that has run a while: it routes one report first (places loaded,
        # connections open), then is frozen while the n reports are made, and let go.
        warm = {w.reference for w in caller.at_rate(self.paths, 0, 1)}
        jobs = Queue(QUEUE_NAME, connection=redis.Redis.from_url(stack.redis_url))
        stack.start_worker()
        self._wait_for_alerts(stub, warm)
        self._wait_until_idle(rt, jobs)
        stack.pause_worker()
        stub.clear()
        references = {w.reference for w in caller.at_rate(self.paths, 0, n)}
        cpu_started = stack.cpu_seconds("worker")
        started = time.monotonic()
        stack.resume_worker()
        deadline = started + 300
        routed_at = None
        quiet_since = time.monotonic()
        seen = -1
        while time.monotonic() < deadline:
            with rt.db.reading() as session:
                waiting = session.scalar(select(func.count(ReportRow.id)).where(ReportRow.routed_at.is_(None)))
            if not waiting and routed_at is None:
                routed_at = time.monotonic()
            count = len(stub.arrivals())
            if count != seen:
                seen, quiet_since = count, time.monotonic()
            if routed_at is not None and jobs.count == 0 and time.monotonic() - quiet_since > 1.5:
                break
            time.sleep(0.05)
        alerts = [a for a in stub.arrivals() if any(r in references for r in re.findall(r"\b\d{7}\b", a.message))]
        routed_s = (routed_at or time.monotonic()) - started
        last = max((a.at for a in alerts), default=started) - started
        stub.delay = 0.0
        cpu = stack.cpu_seconds("worker") - cpu_started
        return [
            stack.database,
            f"{sms_delay * 1000:.0f} ms",
            len(references),
            len(alerts),
            f"{len(references) / routed_s:.1f}" if routed_at else "not all routed",
            f"{len(alerts) / last:.1f}" if last > 0 else "-",
            f"{routed_s:.1f} s",
            f"{last:.1f} s",
            f"{cpu / max(1, len(references)) * 1000:.1f} ms",
        ]

    @staticmethod
    def _wait_until_idle(rt: Runtime, jobs: Queue, timeout: float = 30) -> None:
        """Until the worker has no job in hand and every SMS is recorded: frozen inside a
        transaction, it would hold SQLite's write lock and the web would wait on it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with rt.db.reading() as session:
                unsent = session.scalar(select(func.count(Message.id)).where(Message.status.in_(UNSENT)))
            if not unsent and not jobs.count and not jobs.started_job_registry.count:
                return
            time.sleep(0.05)

    def redis_memory(self) -> None:
        """used_memory before and after opening N sessions left mid-flow (at the place picker)."""
        n = self.profile.redis_sessions
        community = [p for p in self.paths if p.kind == "community"]
        hops = 5  # main menu, category, danger, age, sex: the district list is on the screen
        client = self.rt.redis
        before, keys_before = int(client.info("memory")["used_memory"]), int(client.dbsize())
        self.caller().open_sessions(community, n, hops)
        after, keys_after = int(client.info("memory")["used_memory"]), int(client.dbsize())
        per = (after - before) / n
        self.report.table(
            "Redis memory per active session",
            ["sessions open", "keys per session", "bytes per session", "10,000 open sessions"],
            [[n, f"{(keys_after - keys_before) / n:.1f}", f"{per:.0f}", f"{per * 10000 / 2**20:.0f} MiB"]],
            f"Community callers left after {hops} hops (on the district list): the session's state and "
            "replies, the phone's resumable draft and its cached profile (INFO memory used_memory).",
        )
        self.clear_drafts()

    def webhook_cost(self) -> None:
        """In process (Flask test client): µs per hop as the tree and the villages grow."""
        p = self.profile
        workdir = self.stack.workdir / "webhook"
        workdir.mkdir(exist_ok=True)
        base = replace(
            self.stack.settings(),
            database_url=f"sqlite:///{workdir / 'template.db'}",
            redis_url=self.stack.redis_url.rsplit("/", 1)[0] + "/1",
        )
        prepare_template(base)
        rows = webhook_cost.run(base, workdir, p.webhook_sessions, p.tree_factors, p.village_factors)
        baseline = rows[0].mean_us
        self.report.table(
            "Webhook cost vs tree size and villages (in process, SQLite)",
            ["tree and places", "nodes", "villages", "hops timed", "mean", "p50", "p99", "mean vs shipped"],
            [
                [
                    r.variant,
                    r.nodes,
                    f"{r.villages:,}",
                    r.hops,
                    f"{r.mean_us:.0f} µs",
                    f"{r.p50_us:.0f} µs",
                    f"{r.p99_us:.0f} µs",
                    f"{r.mean_us / baseline:.2f}x",
                ]
                for r in rows
            ],
            f"{p.webhook_sessions} whole report sessions per row through the Flask test client (Redis, SQLite "
            "and the engine, no HTTP server). Bigger trees: the report chain copied under extra menus; more "
            "villages: each cell's villages copied (the sessions still pick real ones, paging with 98).",
        )

    def servers(self) -> None:
        """The full flow at one level over server lines (gunicorn's worker classes, granian), to choose
        the Procfile's; each line is run twice, the order reversed the second time (the machine drifts)."""
        p = self.profile
        runs: dict[str, list[LoadResult]] = {name: [] for name in SERVER_LINES}
        # The web alone: a worker draining the earlier parts' reports would load some settings more than others.
        self.stack.stop_worker()
        try:
            for order in (list(SERVER_LINES), list(reversed(SERVER_LINES))):
                for name in order:
                    self.stack.start_web(line=SERVER_LINES[name])
                    runs[name].append(self.load("report flow", p.server_level, p.server_seconds))
        finally:
            self.stack.start_web()
            self.stack.start_worker()
        rows = []
        for name, results in runs.items():
            hops = [r.hops_per_s for r in results]
            rows.append(
                [
                    name,
                    f"{statistics.mean(r.sessions_per_s for r in results):.1f}",
                    f"{statistics.mean(hops):.0f} ({min(hops):.0f}-{max(hops):.0f})",
                    f"{statistics.mean(r.p50_ms for r in results):.1f}",
                    f"{statistics.mean(r.p99_ms for r in results):.1f}",
                    sum(r.errors for r in results),
                ]
            )
        self.report.table(
            f"Server lines (report flow, {p.server_level} connections, 2 x {p.server_seconds} s each)",
            ["server", "sessions/s", "hops/s (lowest-highest)", "hop p50 (ms)", "hop p99 (ms)", "errors"],
            rows,
            "The web process alone (worker stopped); every line run twice, in reverse order the second time; "
            "means of the two runs.",
        )


def _cpu_used(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each of the peer part's process groups, the database and the machine."""
    return {**stack.cpu_used(*PEER_PROCESSES), "machine": machine_busy_seconds()}


def _peer_row(
    database: str, level: int, runs: dict[str, list[LoadResult]], cpu: dict[str, list[dict[str, float]]]
) -> list[object]:
    """One table row: medians over the rounds of each target."""

    def median(target: str, what: str) -> float:
        return statistics.median(getattr(r, what) for r in runs[target])

    def us(target: str, *parts: str) -> str:
        """Median CPU µs a hop of target's runs, of each part."""
        return " / ".join(f"{statistics.median(run[part] for run in cpu[target]) * 1e6:.0f}" for part in parts)

    def spread(target: str) -> str:
        values = [r.hops_per_s for r in runs[target]]
        return f"{median(target, 'hops_per_s'):.0f} ({min(values):.0f}-{max(values):.0f})"

    ijwi, peer_hops, floor_hops = (median(t, "hops_per_s") for t in ("ijwi", "peer", "floor"))
    speed = ijwi / peer_hops if peer_hops else 0.0
    p99 = median("ijwi", "p99_ms") / median("peer", "p99_ms") if median("peer", "p99_ms") else float("inf")
    share = ijwi / floor_hops if floor_hops else 0.0
    bad = [sum(r.errors for r in runs[t]) for t in ("ijwi", "peer", "floor")]
    ok = speed >= PEER_THROUGHPUT_TARGET and p99 <= PEER_P99_TARGET and share >= THROUGHPUT_TARGET and not any(bad)
    return [
        database,
        level,
        spread("ijwi"),
        f"{median('ijwi', 'p50_ms'):.1f} / {median('ijwi', 'p99_ms'):.1f}",
        spread("peer"),
        f"{median('peer', 'p50_ms'):.1f} / {median('peer', 'p99_ms'):.1f}",
        f"{speed:.2f}x",
        f"{p99:.2f}x",
        spread("floor"),
        f"{share:.0%}",
        " / ".join(str(b) for b in bad),
        f"{us('ijwi', 'web', 'worker', 'redis', 'database')}; {us('peer', 'peer', 'redis')}; {us('floor', 'floor')}",
        f"{us('ijwi', 'machine')} / {us('peer', 'machine')}",
        "PASS" if ok else "FAIL",
    ]


def prepare_template(settings: object) -> None:
    """A migrated SQLite database with the places, for the in-process part."""
    migrate.upgrade(settings.database_url)  # type: ignore[attr-defined]
    rt = Runtime(settings)  # type: ignore[arg-type]
    imports.import_locations(rt)
    rt.db.engine.dispose()
