"""Each part of the bench: drives the running stack (or the app in process) and adds its table."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, replace

import redis
from rq import Queue
from sqlalchemy import func, select

from bench import webhook_cost
from bench.driver import Caller
from bench.load import LoadResult, run_wrk
from bench.paths import mixed_paths, write_data_file
from bench.report import Report, ms, percentile
from bench.stack import VOLUNTEERS, WEBHOOK_TOKEN, Stack, volunteer_phone
from gateway import keys, migrate
from gateway.models import Report as ReportRow
from gateway.registry import imports
from gateway.runtime import QUEUE_NAME, Runtime
from gateway.ussd import callers

# The share of report sessions made by registered volunteers (the rest: community callers).
VOLUNTEER_SHARE = 0.5
# Targets of issue 5, as ratios to the floor measured in the same run.
THROUGHPUT_TARGET = 0.70
P99_TARGET = 2.0
CONFIRM_TO_SMS_TARGET = 1.0
# The app's gunicorn line is the Procfile's; the floor's app instead of wsgi:app.
FLOOR_APP = "bench.floor:create_app()"
# Server settings tried by the servers part.
SERVER_SETTINGS = {
    "sync, 2 workers": ["--workers", "2", "--worker-class", "sync"],
    "sync, 4 workers": ["--workers", "4", "--worker-class", "sync"],
    "gthread, 2 workers x 4 threads": ["--workers", "2", "--threads", "4", "--worker-class", "gthread"],
    "gthread, 4 workers x 2 threads": ["--workers", "4", "--threads", "2", "--worker-class", "gthread"],
    "gthread, 3 workers x 4 threads": ["--workers", "3", "--threads", "4", "--worker-class", "gthread"],
}
_runs = iter(range(1, 10**6))
# Seconds the SMS API takes to answer in the worker part's last row (a provider across the internet).
SLOW_SMS_API = 0.3


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


QUICK = Profile("quick", (4, 16), 8, 16, 8, (1, 6), 8, 60, False, 300, 10, (1, 10, 100), (10,))
FULL = Profile("full", (4, 16, 64), 20, 16, 20, (1, 6, 12), 20, 300, True, 2000, 40, (1, 10, 100), (10,))


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

    def load(self, target: str, concurrency: int, seconds: int) -> LoadResult:
        mode = "floor" if target == "floor" else "app"
        # A hop still in flight when the last run stopped may have left a draft after that run's clean-up.
        time.sleep(1)
        self.clear_drafts()
        result = run_wrk(
            target,
            self.stack.web_url,
            f"/ussd?token={WEBHOOK_TOKEN}",
            self.datafile,
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
        """Wait until the worker has done every queued job (reports of earlier parts)."""
        jobs = Queue(QUEUE_NAME, connection=self.rt.rq_redis)
        deadline = time.monotonic() + timeout
        while (jobs.count or jobs.started_job_registry.count) and time.monotonic() < deadline:
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
            "GET and one SET, on the same gunicorn line, measured first; the flow runs with its worker routing "
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

    def confirm_to_sms(self) -> None:
        """Sessions at fixed rates; from the confirm screen's answer to the first alert reaching the SMS API."""
        stub = self.stack.stub
        assert stub is not None
        rows = []
        self.drain()
        for rate in self.profile.confirm_rates:
            stub.clear()
            walked = self.caller().at_rate(self.paths, rate, max(1, int(rate * self.profile.confirm_seconds)))
            first = self._wait_for_alerts(stub, {w.reference for w in walked})
            delays = [first[w.reference] - w.confirmed_at for w in walked if w.reference in first]
            p95 = percentile(delays, 0.95)
            rows.append(
                [
                    f"{rate:g}/s",
                    len(walked),
                    len(walked) - len(delays),
                    ms(percentile(delays, 0.5)),
                    ms(p95),
                    "PASS" if delays and len(delays) == len(walked) and p95 < CONFIRM_TO_SMS_TARGET else "FAIL",
                ]
            )
            self.clear_drafts()
        self.report.table(
            "Confirm to SMS (one worker, the SMS API answered locally)",
            ["sessions started", "reports", "no SMS", "p50", "p95", f"p95 < {CONFIRM_TO_SMS_TARGET:g} s"],
            rows,
            "From the answer to the confirm hop (the END screen with the reference) to the first alert of that "
            "reference reaching the local SMS API; whole sessions walked over HTTP at a fixed rate.",
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
        rows.append(self._worker_rate(self.stack, max(20, n // 5), SLOW_SMS_API))
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
            ],
            rows,
            "Reports made by whole USSD sessions while the worker was stopped; the clock starts when the "
            "started worker takes its first job. Each referral alerts its district's on-duty social worker "
            "and psychologist. The last row: the local SMS API waits before each answer, as a request across "
            "the internet does (the SDK opens a new connection for each, so in production add the handshakes).",
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
        references = {w.reference for w in caller.at_rate(self.paths, 0, n)}
        jobs = Queue(QUEUE_NAME, connection=redis.Redis.from_url(stack.redis_url))
        queued = jobs.count
        stack.start_worker(wait=False)
        deadline = time.monotonic() + 300
        # The first change of the queue's length is the worker taking its first job.
        while jobs.count == queued and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
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
        return [
            stack.database,
            f"{sms_delay * 1000:.0f} ms",
            len(references),
            len(alerts),
            f"{len(references) / routed_s:.1f}" if routed_at else "not all routed",
            f"{len(alerts) / last:.1f}" if last > 0 else "-",
            f"{routed_s:.1f} s",
            f"{last:.1f} s",
        ]

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
        """The full flow at one level over a few gunicorn settings, to choose the Procfile's line."""
        p = self.profile
        rows = []
        # The web alone: a worker draining the earlier parts' reports would load some settings more than others.
        self.stack.stop_worker()
        try:
            for name, options in SERVER_SETTINGS.items():
                self.stack.start_web(server_options=options + ["--timeout", "30", "--keep-alive", "5"])
                r = self.load("report flow", p.server_level, p.server_seconds)
                rows.append(
                    [
                        name,
                        f"{r.sessions_per_s:.1f}",
                        f"{r.hops_per_s:.0f}",
                        f"{r.p50_ms:.1f}",
                        f"{r.p99_ms:.1f}",
                        r.errors,
                    ]
                )
        finally:
            self.stack.start_web()
            self.stack.start_worker()
        self.report.table(
            f"Server settings (report flow, {p.server_level} connections, {p.server_seconds} s each)",
            ["gunicorn", "sessions/s", "hops/s", "hop p50 (ms)", "hop p99 (ms)", "errors"],
            rows,
            "The web process alone (worker stopped), each setting started from the Procfile's line.",
        )


def prepare_template(settings: object) -> None:
    """A migrated SQLite database with the places, for the in-process part."""
    migrate.upgrade(settings.database_url)  # type: ignore[attr-defined]
    rt = Runtime(settings)  # type: ignore[arg-type]
    imports.import_locations(rt)
    rt.db.engine.dispose()
