"""The web part: 1 million referrals and 2 million SMS in PostgreSQL, then the dashboards and
the case list timed (the functions the admin pages and the API call, then the pages).

The rows are made by PostgreSQL itself (INSERT ... SELECT over generate_series), spread
evenly over three years, newest last, in every village; a run finds them again when the
counts match and does not make them twice. Target: each answer under 300 ms.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from bench.report import OUT, Report, ms
from gateway import keys, migrate
from gateway.clock import LOCAL_TIME
from gateway.config import Settings
from gateway.models import KeyCanary, Location, Message, Referral
from gateway.redis_conn import embedded_url
from gateway.registry import imports
from gateway.runtime import Runtime

DATABASE_URL = os.environ.get("WEB_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ijwi_webbench")
# Rows of the full part, and how long they span.
REFERRALS = 1_000_000
MESSAGES_PER_REFERRAL = 2
SPAN = timedelta(days=3 * 365)
# Each answer should come within this.
TARGET_SECONDS = 0.3
# Timed runs of each measure (after one to warm the caches).
RUNS = 7
_CATEGORIES = ["violence", "neglect", "labour", "marriage", "separated", "school", "disability", "placement", "other"]
_OUTCOMES = ["family_supported", "referred", "placed", "unfounded", "other"]
_STATES = ["delivered"] * 8 + ["sent", "failed"]


def _array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


# One referral per g: a village chosen by g, a 2% share waiting for an officer, 2% acknowledged,
# the rest closed with an outcome; every 5th urgent, every 7th escalated, every 97th flagged.
REFERRALS_SQL = f"""
INSERT INTO referrals (reference, category, urgent, age_band, sex, location_id, district_id, reporter_kind,
    channel, status, flagged, escalation_step, created_at, updated_at, acknowledged_at, closed_at, outcome)
SELECT 'W' || g, ({_array(_CATEGORIES)})[1 + g % 9], g % 5 = 0, '5-11', 'girl', v.village_id, v.district_id,
    'community', 'ussd',
    CASE WHEN g % 50 = 0 THEN 'routed' WHEN g % 50 = 1 THEN 'acknowledged' ELSE 'closed' END,
    g % 97 = 0, CASE WHEN g % 7 = 0 THEN 1 ELSE 0 END, t.created, t.created,
    CASE WHEN g % 50 <> 0 THEN t.created + (60 + g % 7200) * interval '1 second' END,
    CASE WHEN g % 50 > 1 THEN t.created + (3600 + g % 864000) * interval '1 second' END,
    CASE WHEN g % 50 > 1 THEN ({_array(_OUTCOMES)})[1 + g % 5] END
FROM generate_series(1, :count) AS g
JOIN bench_villages AS v ON v.n = (CAST(g AS bigint) * 7919) % :villages
CROSS JOIN LATERAL (SELECT CAST(:newest AS timestamptz) - (:count - g) * :step * interval '1 second' AS created) AS t
ORDER BY g
"""
# Two SMS per referral (whose ids follow g: the ORDER BY above), a second after it; most
# delivered, some sent or failed, every 13th retried.
MESSAGES_SQL = f"""
INSERT INTO messages (referral_id, kind, "to", body, status, attempts, created_at, updated_at, sent_at)
SELECT r.id, 'alert', '+250788000111', 'bench alert', ({_array(_STATES)})[1 + g % 10],
    CASE WHEN g % 13 = 0 THEN 2 ELSE 1 END, r.at, r.at, r.at
FROM generate_series(1, :count) AS g
CROSS JOIN LATERAL (
    SELECT (g - 1) / {MESSAGES_PER_REFERRAL} + 1 AS id,
        CAST(:newest AS timestamptz) - (:referrals - ((g - 1) / {MESSAGES_PER_REFERRAL} + 1)) * :step
            * interval '1 second' + interval '1 second' AS at
) AS r
"""
VILLAGES_SQL = """
CREATE TEMP TABLE bench_villages AS
SELECT row_number() OVER (ORDER BY v.id) - 1 AS n, v.id AS village_id, s.parent_id AS district_id
FROM locations AS v JOIN locations AS c ON v.parent_id = c.id JOIN locations AS s ON c.parent_id = s.id
WHERE v.level = 'village'
"""


def ensure_database(url: str) -> None:
    """Create the bench's database when it is missing (connecting to the server's postgres one)."""
    target = make_url(url)
    name = target.database or ""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unexpected database name {name!r}")
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()


def generate(rt: Runtime, referrals: int, say: Callable[[str], None]) -> tuple[float, bool]:
    """referrals and twice as many SMS (made again unless already there); seconds taken, and
    whether they were made now."""
    messages = referrals * MESSAGES_PER_REFERRAL
    with rt.db.reading() as session:
        have = (session.scalar(select(func.count(Referral.id))), session.scalar(select(func.count(Message.id))))
    if have == (referrals, messages):
        say(f"[web] {referrals} referrals and {messages} SMS already there")
        return 0.0, False
    say(f"[web] making {referrals} referrals and {messages} SMS in PostgreSQL...")
    began = time.monotonic()
    newest = datetime.now(UTC).replace(microsecond=0)
    values: dict[str, Any] = {"newest": newest, "step": SPAN.total_seconds() / referrals, "referrals": referrals}
    with rt.db.engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        # Making a million rows takes minutes: longer than the gateway's statement timeout.
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        truncate = (
            "TRUNCATE messages, events, assignments, audit_log, referrals, daily_figures, daily_figures_days,"
            " daily_figures_check RESTART IDENTITY CASCADE"
        )
        connection.execute(text(truncate))
        connection.execute(text(VILLAGES_SQL))
        villages = connection.scalar(text("SELECT count(*) FROM bench_villages"))
        connection.execute(text(REFERRALS_SQL), values | {"count": referrals, "villages": villages})
        connection.execute(text(MESSAGES_SQL), values | {"count": messages})
        connection.execute(text("DROP TABLE bench_villages"))
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("referrals", "messages", "locations", "visits"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return time.monotonic() - began, True


def roll_up(rt: Runtime) -> tuple[float, int]:
    """The daily roll-up brought up to date over the whole span (what the first dashboards, or
    `./ijwi stats rollup`, do once): seconds taken and days counted."""
    from gateway.referrals import rollup

    began = time.monotonic()
    now = datetime.now(UTC)
    with rt.db.transaction() as session:
        counted = rollup.refresh(session, (now - SPAN - timedelta(days=2)).date(), now.date(), now)
    return time.monotonic() - began, counted or 0


def touch_recent_days(rt: Runtime, days: int = 7) -> None:
    """One referral of each of the last days written again now (as a late acknowledgement
    would): those days are counted from the records until the roll-up's next check passes them."""
    with rt.db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE referrals SET updated_at = now() WHERE id IN (SELECT DISTINCT ON (created_at::date) id"
                " FROM referrals WHERE created_at > now() - :days * interval '1 day' AND created_at < now()"
                " - interval '1 day' ORDER BY created_at::date, id)"
            ),
            {"days": days + 1},
        )


def prepare(url: str, workdir: Path) -> Runtime:
    """The bench database migrated, with the places, and a runtime over it."""
    ensure_database(url)
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        redis_url=embedded_url(str(workdir / "redis.db")),
        secret_key="web-bench",
        encryption_key=Fernet.generate_key().decode(),
        sms_backend="console",
        # The pages are timed through the test client, over plain HTTP.
        admin_cookie_secure=False,
        # Pages only: no webhook is called.
        dev_mode=True,
    )
    rt = Runtime(settings)
    with rt.db.transaction() as session:
        # A new key every run over the same bench database: the last run's canary would refuse it.
        session.execute(delete(KeyCanary))
    with rt.db.reading() as session:
        if not session.scalar(select(func.count(Location.id))):
            imports.import_locations(rt)
    return rt


def timed(call: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """Median and slowest seconds of runs calls, after one to warm the caches."""
    call()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


def measures(rt: Runtime) -> dict[str, Callable[[], object]]:
    """What is timed: the figures and the case list as the pages ask for them, and the pages."""
    from flask import Flask

    from gateway.accounts.users import Reader
    from gateway.app import create_app
    from gateway.referrals import cases, stats

    with rt.db.reading() as session:
        district_id = session.scalar(select(Referral.district_id).order_by(Referral.id.desc()).limit(1))
    assert district_id is not None, "no referrals to time"
    today = datetime.now(LOCAL_TIME).date()
    targets = stats.Targets.of(rt.settings)
    admin = Reader(0, "bench@example.org", "admin", None)
    officer = Reader(0, "bench-officer@example.org", "officer", district_id)
    delays = (targets.urgent_seconds, targets.normal_seconds)

    def dashboard(period: stats.Period) -> Callable[[], object]:
        return lambda: stats.counted_dashboard(rt, period, datetime.now(UTC))

    def live_dashboard(period: stats.Period) -> Callable[[], object]:
        def run() -> object:
            with rt.db.reading() as session:
                return stats.dashboard(session, rt.places, period, targets, datetime.now(UTC), live=True)

        return run

    def after_writes(period: stats.Period) -> Callable[[], object]:
        touched: list[bool] = []

        def run() -> object:
            if not touched:
                touch_recent_days(rt)
                touched.append(True)
            return stats.counted_dashboard(rt, period, datetime.now(UTC))

        return run

    def case_list(reader: Reader, narrow: cases.CaseFilter, order: str) -> Callable[[], object]:
        def run() -> object:
            with rt.db.reading() as session:
                rows, _ = cases.listing(session, reader, narrow, order, delays, 0, 50)
                return [cases.summary(rt.places, r) for r in rows]

        return run

    waiting_urgent = cases.CaseFilter(statuses=("new", "routed"), urgent=True, categories=("violence", "neglect"))
    found: dict[str, Callable[[], object]] = {
        "dashboard, every district, 12 weeks": dashboard(stats.Period.last_weeks(today)),
        "dashboard, one district, 12 weeks": dashboard(stats.Period.last_weeks(today, district_id=district_id)),
        "dashboard, every district, a year": dashboard(stats.Period(today - timedelta(days=364), today)),
        "dashboard, every district, 12 weeks, counted from the records": live_dashboard(stats.Period.last_weeks(today)),
        "case list, first page, newest": case_list(admin, cases.CaseFilter(), cases.ORDER_NEWEST),
        "case list, waiting urgent violence or neglect": case_list(admin, waiting_urgent, cases.ORDER_NEWEST),
        "case list, an officer's district, most overdue first": case_list(
            officer, cases.CaseFilter(), cases.ORDER_OVERDUE
        ),
        "case list, one district, closed in a month": case_list(
            admin,
            cases.CaseFilter(
                statuses=("closed",),
                district_id=district_id,
                since=datetime.now(UTC) - timedelta(days=60),
                until=datetime.now(UTC) - timedelta(days=30),
            ),
            cases.ORDER_NEWEST,
        ),
    }
    app: Flask = create_app(rt.settings)
    pages = _page_client(rt, app)
    if pages is not None:

        def first_view() -> object:
            for key in rt.redis.scan_iter(keys.dashboard("*")):
                rt.redis.delete(key)
            return pages("/admin/dashboards")

        found["page /admin/dashboards, counted (first view)"] = first_view
        found["page /admin/dashboards, again within a minute (kept)"] = lambda: pages("/admin/dashboards")
        found["page /admin/cases (first page)"] = lambda: pages("/admin/cases")
    found["dashboard, every district, 12 weeks, 7 days written in the last 10 minutes"] = after_writes(
        stats.Period.last_weeks(today)
    )
    return found


def _page_client(rt: Runtime, app: Any) -> Callable[[str], object] | None:
    """GET a page as a logged-in admin (None when the admin pages are not there)."""
    if "admin.dashboards" not in app.view_functions:
        return None
    from gateway.accounts.users import create_user
    from gateway.models import User

    with rt.db.reading() as session:
        exists = session.scalar(select(User.id).where(User.email == "bench@example.org"))
    if exists is None:
        create_user(rt, "bench@example.org", "bench password", "admin")
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    form = {"email": "bench@example.org", "password": "bench password", "csrf_token": token.group(1)}
    assert client.post("/admin/login", data=form).status_code == 302, "the bench could not log in"

    def get(path: str) -> object:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.data

    return get


def run(
    report: Report,
    say: Callable[[str], None],
    referrals: int = REFERRALS,
    url: str = DATABASE_URL,
    workdir: Path = OUT / "web",
) -> bool:
    """The whole part; True when every answer came within the target. workdir keeps the file of
    its embedded Redis, which runs until this process ends and saves it then: a folder removed
    before that left the server unable to stop (12 s, then killed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rt = prepare(url, workdir)
    seconds, made = generate(rt, referrals, say)
    say("[web] bringing the daily roll-up up to date...")
    rolled_seconds, rolled_days = roll_up(rt)
    rows = []
    every_fast = True
    for name, call in measures(rt).items():
        say(f"[web] timing {name}")
        median, slowest = timed(call)
        fast = median < TARGET_SECONDS
        every_fast &= fast
        rows.append([name, ms(median), ms(slowest), "PASS" if fast else "FAIL"])
    rt.db.engine.dispose()
    made_note = f"made in {seconds:.0f} s" if made else "found from an earlier run"
    report.table(
        f"Dashboards and case list ({referrals:,} referrals, {referrals * MESSAGES_PER_REFERRAL:,} SMS)",
        ["measure", "median", "slowest", f"< {TARGET_SECONDS * 1000:.0f} ms"],
        rows,
        notes=(
            f"PostgreSQL, rows over three years ({made_note}; the daily roll-up brought up to date in "
            f"{rolled_seconds:.1f} s, {rolled_days} days counted); {RUNS} timed runs each after one warm-up, in "
            "process (the functions the pages and the API call, each bringing the roll-up up to date first; "
            "the pages through the test client, logged in). The last row: one referral on each of the last "
            "7 days written again just before, so those days are counted from the records."
        ),
    )
    return every_fast
