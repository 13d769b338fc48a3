"""./ijwi bench --only cluster: the scale-out rehearsal, on this one machine.

Starts a Redis primary, a replica and three Sentinels (Debian's redis-server and redis-sentinel),
PostgreSQL's database ijwi_cluster (recreated), two web nodes (the Procfile's web line), three
workers (the Procfile's worker line) and the local SMS API; walks whole report sessions with the
hops of each session alternating between the two nodes (a load balancer without stickiness);
then kills one web node, one worker, fails the Redis primary over with SENTINEL FAILOVER and
kills the next primary. It prints, per fault, what callers saw and the time to recover, then the
counts: reports confirmed = referrals = alerted, none lost, none twice.

What the "network" does: a hop whose HTTP request fails (connection refused or reset, no answer
within HOP_TIMEOUT, or a 5xx) is sent once more, unchanged, to the other node, as a load balancer
retrying on the next upstream would (the gateway answers a resent hop from the session's stored
replies, and stores a report once per session), and the node that failed gets no more hops until
its /readyz answers 200 (the balancer's health check, every 0.5 s). An END screen is what the
caller saw: it is never resent. Everything started is stopped at the end, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet
from rq import Worker
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.paths import SessionPath, mixed_paths
from bench.report import Report
from bench.sms_stub import SmsStub
from bench.stack import ROOT, VOLUNTEERS, WEBHOOK_TOKEN, Stack, procfile_line, volunteer_phone, web_argv
from gateway import keys
from gateway.config import Settings
from gateway.models import Message, Referral
from gateway.models import Report as ReportRow
from gateway.runtime import Runtime
from gateway.ussd import callers

# The first of the rehearsal's ports on 127.0.0.1: Redis primary and replica (+0, +1), the three
# Sentinels (+2..+4), the SMS API (+5), the web nodes (+10, +11).
PORT_BASE = int(os.environ.get("BENCH_CLUSTER_PORT", "7500"))
# Its own PostgreSQL database, dropped and created again at each run.
DATABASE_URL = os.environ.get("CLUSTER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ijwi_cluster")
# The name the Sentinels monitor the primary under.
MASTER_NAME = "ijwi"
# Sentinel's down-after-milliseconds here: a primary silent this long is down (docs/deploy.md: 5000).
DOWN_AFTER_MS = 1000
WEB_NODES = 2
WORKERS = 3
# Callers dialling at the same time, and the seconds each waits between two hops (reading the screen).
CALLERS = 4
THINK = 0.1
# Seconds the network waits for a hop's answer before it gives up on that node.
HOP_TIMEOUT = 10.0
# A hop slower than this is counted as slow: past it a caller's network may already have given up.
SLOW_HOP = 5.0
# Seconds between the load balancer's health checks of a node out of service.
HEALTH_INTERVAL = 0.5
# Seconds before a killed web node or worker is started again (a process supervisor's restart).
RESTART_AFTER = 5.0
# Seconds to look for a worker in the middle of a job before killing one anyway.
BUSY_WAIT = 5.0
# Seconds the sweeps tick here (production: 30): lost jobs are queued again sooner.
SCHEDULER_INTERVAL = 5
# Seconds to wait, after the last fault, for every stored report to be routed and alerted (the
# sweeper queues a lost routing job after 60 s, a lost send after 120 s).
SETTLE_TIMEOUT = 240
# A reference number on an END screen.
REFERENCE = re.compile(r"\b\d{7}\b")
# Programs the rehearsal needs, and the Debian package of each.
PROGRAMS = {"redis-server": "redis-server", "redis-sentinel": "redis-sentinel", "psql": "postgresql-client"}


def missing_programs() -> list[str]:
    """The Debian packages to install for the programs not found on PATH."""
    return sorted({package for program, package in PROGRAMS.items() if shutil.which(program) is None})


# --- Redis: primary, replica, three Sentinels ------------------------------------------------


class RedisGroup:
    """A Redis primary and one replica (AOF on, as in production) watched by three Sentinels."""

    def __init__(
        self, workdir: Path, base: int, say: Callable[[str], None] = print, down_after_ms: int = DOWN_AFTER_MS
    ):
        self.workdir = workdir
        self.data_ports = [base, base + 1]
        self.sentinel_ports = [base + 2, base + 3, base + 4]
        self.say = say
        self.down_after_ms = down_after_ms
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS for the gateway."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> RedisGroup:
        primary, replica = self.data_ports
        self._server(primary)
        self._server(replica, replica_of=primary)
        _wait(lambda: _link_up(replica), f"the replica on port {replica} to copy the primary")
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(
                "\n".join(
                    [
                        f"port {port}",
                        "bind 127.0.0.1",
                        f"dir {self.workdir}",
                        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2",
                        f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
                        f"sentinel failover-timeout {MASTER_NAME} 10000",
                        f"sentinel parallel-syncs {MASTER_NAME} 1",
                    ]
                )
                + "\n"
            )
            self._spawn(port, ["redis-sentinel", str(conf)], f"sentinel-{port}")
        _wait(self._watched, "the Sentinels to see the primary, the replica and each other")
        return self

    def _server(self, port: int, replica_of: int | None = None) -> None:
        data = self.workdir / f"redis-{port}"
        data.mkdir(exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
        argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        if replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self._spawn(port, argv, f"redis-{port}")
        _wait(lambda: redis.Redis(port=port, socket_timeout=1).ping(), f"redis-server on port {port}")

    def _spawn(self, port: int, argv: list[str], name: str) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.procs[port] = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)

    def _watched(self) -> bool:
        for port in self.sentinel_ports:
            state: Any = redis.Redis(port=port, socket_timeout=1, decode_responses=True).sentinel_master(MASTER_NAME)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    def primary(self) -> int:
        """The port the Sentinels name as the primary's (asking each until one answers)."""
        for port in self.sentinel_ports:
            try:
                return _named_primary(port)
            except (redis.RedisError, TypeError):
                continue
        raise RuntimeError("no Sentinel answers")

    def failover(self) -> None:
        redis.Redis(port=self.sentinel_ports[0], socket_timeout=5).sentinel_failover(MASTER_NAME)

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart_as_replica(self, port: int) -> None:
        """Start a killed server again, as a replica of the current primary (as its Sentinels would make it),
        and wait until it has copied it."""
        self._server(port, replica_of=self.primary())
        _wait(lambda: _link_up(port), f"port {port} to copy the primary")

    def wait_for_new_primary(self, old: int, timeout: float = 60) -> int:
        """The new primary's port once every Sentinel names it and it takes writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                named = {_named_primary(p) for p in self.sentinel_ports}
                if len(named) == 1 and old not in named:
                    port = named.pop()
                    redis.Redis(port=port, socket_timeout=1).set("ijwi:rehearsal:probe", "1", ex=60)
                    return port
            except (redis.RedisError, TypeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"no new primary after {timeout:.0f} s")

    def stop(self) -> None:
        for port in list(self.procs):
            proc = self.procs.pop(port)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _named_primary(sentinel_port: int) -> int:
    """The primary's port, as one Sentinel names it."""
    address: Any = redis.Redis(port=sentinel_port, socket_timeout=1).sentinel_get_master_addr_by_name(MASTER_NAME)
    return int(address[1])


def _link_up(port: int) -> bool:
    info = redis.Redis(port=port, socket_timeout=1).info("replication")
    return bool(info.get("master_link_status") == "up")


def _wait(ready: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


# --- the gateway: two web nodes, three workers, PostgreSQL, the SMS API ----------------------


@dataclass
class Cluster(Stack):
    """Stack's gateway, with Redis behind Sentinel, two web nodes and three workers."""

    base: int = PORT_BASE
    group: RedisGroup | None = None

    @property
    def database_url(self) -> str:
        return DATABASE_URL

    @property
    def node_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.base + 10 + i}" for i in range(WEB_NODES)]

    def settings(self) -> Settings:
        """The stack's settings, with Redis reached through the Sentinels."""
        assert self.group is not None
        return replace(
            super().settings(), redis_url="", redis_sentinels=self.group.sentinels, redis_sentinel_master=MASTER_NAME
        )

    def env(self) -> dict[str, str]:
        assert self.group is not None
        env = super().env()
        env.pop("REDIS_URL")
        env.update(
            REDIS_SENTINELS=self.group.sentinels,
            REDIS_SENTINEL_MASTER=MASTER_NAME,
            SCHEDULER_INTERVAL=str(SCHEDULER_INTERVAL),
        )
        return env

    def start(self) -> Cluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._keys = {"SECRET_KEY": os.urandom(24).hex(), "ENCRYPTION_KEY": Fernet.generate_key().decode()}
        self.stub = SmsStub(self.base + 5).start()
        self.say("Redis primary, replica and three Sentinels...")
        self.group = RedisGroup(self.workdir, self.base, self.say).start()
        recreate_database(self.database_url)
        self.prepare_database()
        for i in range(WEB_NODES):
            self.start_node(i)
        for i in range(WORKERS):
            self.start_worker_n(i)
        return self

    def start_node(self, i: int) -> None:
        port = self.base + 10 + i
        argv = [token.replace("0.0.0.0", "127.0.0.1") for token in web_argv(port)]
        self._spawn(f"web{i}", argv, cwd=ROOT)
        self._wait(lambda: requests.get(f"{self.node_urls[i]}/readyz", timeout=2).ok, f"web{i}")

    def start_worker_n(self, i: int) -> None:
        self._spawn(f"worker{i}", shlex.split(procfile_line("worker")), cwd=ROOT)
        pid = self.procs[f"worker{i}"].pid
        rt = self.runtime
        self._wait(lambda: any(w.pid == pid for w in Worker.all(connection=rt.rq_redis)), f"worker{i}")

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    @property
    def runtime(self) -> Runtime:
        if "_rt" not in self.__dict__:
            self.__dict__["_rt"] = Runtime(self.settings())
        rt: Runtime = self.__dict__["_rt"]
        return rt

    def stop(self) -> None:
        for name in [n for n in self.procs if n.startswith("worker")] + [n for n in self.procs if n.startswith("web")]:
            self.stop_process(name)
        if self.group is not None:
            self.group.stop()
        if self.stub is not None:
            self.stub.stop()
            self.stub = None


def recreate_database(url: str) -> None:
    """Drop and create the rehearsal's database (connected to the server's postgres database)."""
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


# --- callers ---------------------------------------------------------------------------------


@dataclass
class Walk:
    """One session as its caller lived it."""

    started: float
    outcome: str = "walking"  # confirmed, error screen, astray, no answer
    reference: str | None = None
    hops: list[tuple[float, float, bool]] = field(default_factory=list)  # (sent at, seconds, resent)
    seen: str = ""  # what an astray or error session showed, and at which hop


class Callers:
    """CALLERS threads walking whole report sessions, each hop to the other node than the last, through
    a load balancer played here: a failed request is sent once more to the other node, and the node
    that failed gets no more hops until its /readyz answers (checked every HEALTH_INTERVAL)."""

    def __init__(self, urls: Sequence[str], paths: Sequence[SessionPath], rt: Runtime, phones: Sequence[str]):
        self.urls = [f"{u}/ussd?token={WEBHOOK_TOKEN}" for u in urls]
        self.paths = paths
        self.rt = rt
        self.walks: list[Walk] = []
        self._lock = threading.Lock()
        self._phones: list[str] = list(phones)
        self._count = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"caller-{i}", daemon=True) for i in range(CALLERS)]
        self._threads.append(threading.Thread(target=self._health_checks, name="health-checks", daemon=True))
        # Nodes out of service (a request to them failed) until their /readyz answers 200.
        self._down: set[int] = set()
        self.ready_urls = [f"{u}/readyz" for u in urls]

    def start(self) -> Callers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(HOP_TIMEOUT * 2 + 5)

    def _run(self) -> None:
        http = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                n = self._count
                self._count += 1
                walk = Walk(time.monotonic())
                self.walks.append(walk)
                path = self.paths[n % len(self.paths)]
                phone = self._phones.pop() if path.kind == "volunteer" and self._phones else ""
            if not phone:
                phone = f"+25073{n // 100000 % 100:02d}{n % 100000:05d}"
            try:
                self._walk(http, n, path, phone, walk)
            finally:
                if path.kind == "volunteer" and not phone.startswith("+25073"):
                    if walk.outcome != "confirmed":
                        # Its next caller would answer "start again" to the resume question.
                        self.rt.redis.delete(keys.draft(self.rt.crypto.lookup_hash(phone)))
                    with self._lock:
                        self._phones.insert(0, phone)

    def _walk(self, http: requests.Session, n: int, path: SessionPath, phone: str, walk: Walk) -> None:
        last = len(path.inputs)
        for hop in range(last + 1):
            form = {
                "sessionId": f"ATUid_cluster_{n}",
                "serviceCode": "*801#",
                "phoneNumber": phone,
                "networkCode": "63510",
                "text": "*".join(path.inputs[:hop]),
            }
            sent = time.monotonic()
            reply, resent = self._send(http, n + hop, form)
            walk.hops.append((sent, time.monotonic() - sent, resent))
            if reply is None:
                walk.outcome = "no answer"
                return
            if reply.startswith("END "):
                found = REFERENCE.search(reply)
                if hop == last and found:
                    walk.reference = found.group(0)
                    walk.outcome = "confirmed"
                else:
                    walk.outcome = "astray" if found else "error screen"
                    walk.seen = f"hop {hop}/{last}: {reply[:60]!r}"
                return
            if not reply.startswith("CON ") or hop == last:
                walk.outcome = "astray"
                walk.seen = f"hop {hop}/{last}: {reply[:60]!r}"
                return
            time.sleep(THINK)

    def _send(self, http: requests.Session, turn: int, form: dict[str, str]) -> tuple[str | None, bool]:
        """As the load balancer: the hop to the next node in service; if that fails, once more to
        another, and the failed node is out of service until its /readyz answers. (reply, resent)"""
        with self._lock:
            up = [i for i in range(len(self.urls)) if i not in self._down] or list(range(len(self.urls)))
        node = up[turn % len(up)]
        reply = self._post(http, node, form)
        if reply is not None:
            return reply, False
        with self._lock:
            self._down.add(node)
        return self._post(http, (node + 1) % len(self.urls), form), True

    def _health_checks(self) -> None:
        while not self._stop.wait(HEALTH_INTERVAL):
            with self._lock:
                down = list(self._down)
            for node in down:
                try:
                    ready = requests.get(self.ready_urls[node], timeout=1).status_code == 200
                except requests.RequestException:
                    ready = False
                if ready:
                    with self._lock:
                        self._down.discard(node)

    def _post(self, http: requests.Session, node: int, form: dict[str, str]) -> str | None:
        try:
            response = http.post(self.urls[node], data=form, timeout=HOP_TIMEOUT)
        except requests.RequestException:
            return None
        return response.text if response.status_code < 500 else None


# --- the rehearsal -----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    began: float
    ended: float = 0.0
    recovered: str = "-"
    note: str = ""


class Rehearsal:
    def __init__(self, cluster: Cluster, report: Report, phase_seconds: float) -> None:
        self.cluster = cluster
        self.report = report
        self.phase_seconds = phase_seconds
        self.say = cluster.say
        self.phases: list[Phase] = []
        # The job the killed worker was running (id, time.monotonic() of the kill, its phase).
        self.abandoned: tuple[str, float, Phase] | None = None
        rt = cluster.runtime
        tree = rt.menus.active()
        home = callers.profile(rt, volunteer_phone(0)).home
        assert home is not None, "the rehearsal's volunteers are not registered"
        paths = mixed_paths(tree, rt.places, 200, 0.5, home, tree.languages[0], seed=14)
        self.callers = Callers(cluster.node_urls, paths, rt, [volunteer_phone(i) for i in range(VOLUNTEERS)])

    def run(self) -> None:
        self.callers.start()
        try:
            self._phase("none (both nodes, three workers)", lambda p: None)
            self._phase("web node 2 killed (SIGKILL), restarted after 5 s", self._kill_web)
            self._phase("a worker killed (SIGKILL) in the middle of a job, restarted after 5 s", self._kill_worker)
            self._phase("Redis: SENTINEL FAILOVER", self._sentinel_failover)
            self._phase("Redis: the primary killed (SIGKILL)", self._kill_primary)
        finally:
            self.callers.stop()
        settled = self._settle()
        self._print(settled)

    def _phase(self, name: str, fault: Callable[[Phase], None]) -> None:
        phase = Phase(name, time.monotonic())
        self.phases.append(phase)
        self.say(f"fault: {name}")
        time.sleep(2)
        fault(phase)
        time.sleep(max(0.0, phase.began + self.phase_seconds - time.monotonic()))
        phase.ended = time.monotonic()

    def _kill_web(self, phase: Phase) -> None:
        at = time.monotonic()
        self.cluster.kill("web1")
        time.sleep(RESTART_AFTER)
        self.cluster.start_node(1)
        phase.recovered = f"{time.monotonic() - at:.1f} s (node 2 answering again)"

    def _kill_worker(self, phase: Phase) -> None:
        """Kill a worker in the middle of a job (the worst moment), or any if none is busy within BUSY_WAIT."""
        rt = self.cluster.runtime
        name, busy = "worker0", None
        deadline = time.monotonic() + BUSY_WAIT
        while busy is None and time.monotonic() < deadline:
            pids = {self.cluster.procs[f"worker{i}"].pid: f"worker{i}" for i in range(WORKERS)}
            for worker in Worker.all(connection=rt.rq_redis):
                job_id = worker.get_current_job_id()
                if worker.pid in pids and job_id:
                    name, busy = pids[worker.pid], job_id
                    break
            else:
                time.sleep(0.01)
        at = time.monotonic()
        self.cluster.kill(name)
        time.sleep(RESTART_AFTER)
        self.cluster.start_worker_n(int(name.removeprefix("worker")))
        phase.recovered = f"{time.monotonic() - at:.1f} s (a new worker registered)"
        phase.note = f"it was running {busy}" if busy else "it was between jobs"
        if busy:
            self.abandoned = (busy, at, phase)

    def _sentinel_failover(self, phase: Phase) -> None:
        group = self.cluster.group
        assert group is not None
        old = group.primary()
        at = time.monotonic()
        group.failover()
        new = group.wait_for_new_primary(old)
        phase.recovered = f"{time.monotonic() - at:.1f} s (port {new} primary)"
        # The Sentinels turn the old primary into the new one's replica at their next look at it:
        # until then a second failure would find no replica.
        _wait(lambda: _link_up(old), f"port {old} to copy the new primary")
        phase.note = f"port {old} copying port {new} after {time.monotonic() - at:.0f} s"

    def _kill_primary(self, phase: Phase) -> None:
        group = self.cluster.group
        assert group is not None
        old = group.primary()
        at = time.monotonic()
        group.kill(old)
        new = group.wait_for_new_primary(old)
        phase.recovered = f"{time.monotonic() - at:.1f} s (port {new} primary)"
        group.restart_as_replica(old)
        _wait(lambda: _link_up(old), f"port {old} to copy the new primary")
        phase.note = f"port {old} started again, copying port {new} after {time.monotonic() - at:.0f} s"

    def _settle(self) -> float:
        """Seconds after the last fault until every stored report is routed and every alert arrived."""
        self.say("waiting for every report to be routed and alerted...")
        last_fault = self.phases[-1].began
        deadline = time.monotonic() + SETTLE_TIMEOUT
        settled = float("nan")
        while time.monotonic() < deadline:
            counts = self.counts()
            if counts["unrouted"] == 0 and counts["alerts not at the SMS API"] == 0 and counts["lost"] == 0:
                settled = time.monotonic() - last_fault
                break
            time.sleep(1)
        if self.abandoned is not None:
            job_id, killed_at, phase = self.abandoned
            reference = self._reference_of(job_id)
            stub = self.cluster.stub
            assert stub is not None
            arrived = [a.at for a in stub.arrivals() if reference and reference in a.message]
            if reference and arrived:
                phase.note += f"; that referral's last alert reached the SMS API {max(arrived) - killed_at:.0f} s after"
        return settled

    def _reference_of(self, job_id: str) -> str | None:
        """The reference of the referral a routing or sending job works for."""
        number = job_id.rsplit("-", 1)[-1]
        if not number.isdigit():
            return None
        with self.cluster.runtime.db.reading() as session:
            if job_id.startswith("route-report-"):
                return session.scalar(select(ReportRow.reference).where(ReportRow.id == int(number)))
            return session.scalar(
                select(Referral.reference)
                .join(Message, Message.referral_id == Referral.id)
                .where(Message.id == int(number))
            )

    def counts(self) -> dict[str, int]:
        rt = self.cluster.runtime
        stub = self.cluster.stub
        assert stub is not None
        confirmed = {w.reference for w in self.callers.walks if w.reference}
        with rt.db.reading() as session:
            reports = dict(session.execute(select(ReportRow.reference, ReportRow.routed_at)).all())
            referrals = set(session.scalars(select(Referral.reference)))
            alerts = session.execute(
                select(Referral.reference, Message.to, Message.status)
                .join(Message, Message.referral_id == Referral.id)
                .where(Message.kind == "alert")
            ).all()
            per_session = session.execute(
                select(func.count()).select_from(ReportRow).group_by(ReportRow.session_id).having(func.count() > 1)
            ).all()
        # An alert's own reference is the first in its text ("case 1234567: ..."); a later one
        # names an earlier case it is possibly the same as, and is not a second alert of it.
        own = ((REFERENCE.search(a.message), a.to) for a in stub.arrivals())
        arrived = Counter((found.group(), to) for found, to in own if found and found.group() in referrals)
        expected = {(ref, to) for ref, to, _ in alerts}
        alerted = {ref for ref in referrals if all(arrived[(r, to)] for r, to in expected if r == ref)}
        alerted &= {ref for ref, _, _ in alerts}
        return {
            "confirmed": len(confirmed),
            "reports": len(reports),
            "referrals": len(referrals),
            "alerted": len(alerted),
            "lost": len(confirmed - set(reports)),
            "unrouted": sum(1 for routed in reports.values() if routed is None) + len(set(reports) - referrals),
            "alerts not at the SMS API": len(expected - set(arrived)),
            "twice": sum(1 for n in arrived.values() if n > 1) + len(per_session),
            "stored, caller saw no confirmation": len(set(reports) - confirmed),
        }

    def _print(self, settled: float) -> None:
        rows = []
        walks = self.callers.walks
        for i, phase in enumerate(self.phases):
            end = self.phases[i + 1].began if i + 1 < len(self.phases) else phase.ended
            mine = [w for w in walks if phase.began <= w.started < end and w.outcome != "walking"]
            hops = [h for w in walks for h in w.hops if phase.began <= h[0] < end]
            outcomes = Counter(w.outcome for w in mine)
            for w in mine:
                if w.seen:
                    self.say(f"   {phase.name}: {w.outcome} at {w.seen}")
            longest = max((h[1] for h in hops), default=0.0)
            rows.append(
                [
                    phase.name,
                    len(mine),
                    outcomes["confirmed"],
                    outcomes["error screen"],
                    outcomes["astray"],
                    outcomes["no answer"],
                    f"{sum(1 for h in hops if h[2])} / {len(hops)}",
                    sum(1 for h in hops if h[1] > SLOW_HOP),
                    f"{longest:.2f} s",
                    phase.recovered,
                    phase.note,
                ]
            )
        self.report.table(
            "Scale-out rehearsal: what callers saw, per fault",
            [
                "fault",
                "sessions",
                "confirmed",
                "error screens",
                "astray",
                "no answer",
                "hops resent to the other node / hops",
                f"hops > {SLOW_HOP:.0f} s",
                "longest hop",
                "recovered in",
                "note",
            ],
            rows,
            f"{CALLERS} callers walking whole report sessions (half volunteers, half community callers paging to a "
            f"village), {THINK:.1f} s between hops, each hop to the other web node than the last. A hop whose request "
            f"failed (refused, reset, a 5xx, or no answer in {HOP_TIMEOUT:.0f} s) is sent once more to the other node "
            "(the load balancer's retry), and that node gets no more hops until its /readyz answers (health checks "
            f"every {HEALTH_INTERVAL} s); an END screen is never resent. Each fault lasts "
            f"{self.phase_seconds:.0f} s; sessions are counted in the fault during which they started. Sentinel's "
            f"down-after-milliseconds is {DOWN_AFTER_MS} ms here; the sweeps tick every {SCHEDULER_INTERVAL} s.",
        )
        c = self.counts()
        ok = c["confirmed"] <= c["reports"] == c["referrals"] == c["alerted"] and not c["lost"] and not c["twice"]
        self.report.table(
            "Scale-out rehearsal: reports confirmed = referrals = alerted",
            [
                "reports confirmed to callers",
                "reports stored",
                "referrals",
                "referrals alerted",
                "confirmed but not stored (lost)",
                "alerted twice",
                "stored, caller saw no confirmation",
                "all alerted, after the last fault",
                "result",
            ],
            [
                [
                    c["confirmed"],
                    c["reports"],
                    c["referrals"],
                    c["alerted"],
                    c["lost"],
                    c["twice"],
                    c["stored, caller saw no confirmation"],
                    f"{settled:.0f} s" if settled == settled else f"not within {SETTLE_TIMEOUT} s",
                    "PASS" if ok and settled == settled else "FAIL",
                ]
            ],
            "Alerted: every alert of the referral reached the SMS API. Twice: an alert that reached the SMS API "
            "more than once for the same reference and phone, or two reports of one session. A report stored "
            "whose caller saw no confirmation is a confirm hop that failed after the report was written: it is "
            "routed and alerted all the same.",
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./ijwi bench --only cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per fault instead of 20")
    args = parser.parse_args(argv)
    missing = missing_programs()
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)})", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ijwi-cluster-"))
    say: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    cluster = Cluster(workdir / "gateway", say=say)
    report = Report()
    began = time.monotonic()
    failed = True

    def stop_on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    try:
        cluster.start()
        report.machine("cluster rehearsal", DATABASE_URL)
        Rehearsal(cluster, report, 10 if args.quick else 20).run()
        failed = False
    except KeyboardInterrupt:
        print("interrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        cluster.stop()
        if report.parts:
            report.add(f"_{time.monotonic() - began:.0f} s in all._")
            print(f"written to {report.write()}", file=sys.stderr)
        if failed:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
