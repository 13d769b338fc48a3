"""Every Prometheus metric of the gateway, in this one module, and GET /metrics.

Counters and histograms are bumped where things happen (a hop, a job, a delivery report).
With PROMETHEUS_MULTIPROC_DIR set (before this module is imported: the library reads it
then), each process writes its values to memory-mapped files in that folder and a scrape
sums them over every web and worker process; without it (tests, one process) they live in
this process. What is cheaper to count than to track (referrals by status, unacknowledged
cases by age, the queue) is read at scrape time by StateCollector.

Bumping a metric does no I/O a caller waits for: the multiprocess files are memory-mapped,
so an increment is a write to memory (the kernel writes the pages back in its own time).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from gateway import keys, runtime
from gateway.clock import utcnow
from gateway.models import Referral
from gateway.vocabulary import WAITING

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

# Prefix of every metric name.
NS = "ijwi"
# No *_created series: multiprocess mode has none, and one process's start time means little.
disable_created_metrics()  # type: ignore[no-untyped-call]

# --- USSD -------------------------------------------------------------------------------

# Seconds the gateway took over a hop, by the screen it answered (CON goes on, END ends).
# The network gives up after about 10 s; most hops take a few milliseconds.
HOP_SECONDS = Histogram(
    f"{NS}_ussd_hop_seconds",
    "Time the gateway took to answer a USSD hop, by screen kind (CON or END).",
    ["screen"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HOP_ERRORS = Counter(f"{NS}_ussd_hop_errors", "USSD hops answered with the polite error screen (a bug or an outage).")
SESSIONS_STARTED = Counter(f"{NS}_ussd_sessions_started", "USSD sessions begun (first hop; resent hops not counted).")
SESSIONS_ENDED = Counter(f"{NS}_ussd_sessions_ended", "USSD sessions the gateway ended with an END screen.")
SESSIONS_DROPPED = Counter(
    f"{NS}_ussd_sessions_dropped", "USSD sessions the network reported cut off (Incomplete or Failed)."
)

# --- reports, visits, referrals ------------------------------------------------------------

REPORTS = Counter(f"{NS}_reports", "Reports stored (once per session), by channel.", ["channel"])
VISITS = Counter(f"{NS}_visits", "Home visits stored, by whether one had a concern.", ["concern"])
REFERRALS_CREATED = Counter(f"{NS}_referrals_created", "Referrals opened, by what they came from.", ["source"])
ESCALATIONS = Counter(f"{NS}_escalations", "Referrals moved one tier up their chain, by urgency.", ["urgency"])

# --- SMS -------------------------------------------------------------------------------------

SMS_SENT = Counter(
    f"{NS}_sms_sent", "SMS taken by the provider, by message kind and Africa's Talking statusCode.", ["kind", "code"]
)
SMS_DELIVERED = Counter(f"{NS}_sms_delivered", "SMS the provider reported delivered, by message kind.", ["kind"])
SMS_FAILED = Counter(
    f"{NS}_sms_failed",
    "SMS failed for good: refused at sending (stage=send, reason=statusCode) or not delivered "
    "(stage=delivery, reason=the delivery report's status).",
    ["kind", "stage", "reason"],
)
SMS_RETRYING = Counter(
    f"{NS}_sms_retrying",
    "SMS attempts the provider could not take now (reason=statusCode, or no_answer): they wait for a retry.",
    ["reason"],
)
# Seconds the provider took to answer a send (a worker sends one SMS at a time: this sets how
# many workers a machine needs, docs/scaling.md).
SMS_SEND_SECONDS = Histogram(
    f"{NS}_sms_send_seconds",
    "Time the SMS provider took to answer one send (answered or not).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
OUT_OF_CREDIT = Counter(f"{NS}_sms_out_of_credit", "Sends refused because the SMS account is out of credit (405).")

# --- jobs -------------------------------------------------------------------------------------

SWEEPER_REQUEUED = Counter(
    f"{NS}_sweeper_requeued", "Work the sweeper queued again (a lost job, a restarted Redis), by what.", ["what"]
)

# --- protection -------------------------------------------------------------------------------

# Requests refused by a rate limit, by what was limited (e.g. "ussd", "sms_inbound", "login").
RATE_LIMITED = Counter(f"{NS}_rate_limited", "Requests refused by a rate limit, by what was limited.", ["what"])
READINESS_FAILURES = Counter(
    f"{NS}_readiness_failures", "GET /readyz answers where a dependency did not answer, by dependency.", ["dependency"]
)

# Ages (seconds) past which unacknowledged referrals are counted, for
# ijwi_referrals_unacknowledged{older_than=...} (cumulative: "1h" includes "4h").
UNACKNOWLEDGED_AGES = {"0s": 0, "15m": 900, "1h": 3600, "4h": 14400, "24h": 86400}
# The files prometheus-client writes in multiprocess mode (one per metric type and process).
_METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_\w+)_\d+\.db")


class StateCollector(Collector):
    """What a scrape reads from the database and Redis: referrals by status, unacknowledged
    referrals by age, the queue, and whether each dependency answers (one cheap query each)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        families: list[Metric] = []
        ready = GaugeMetricFamily(
            f"{NS}_ready", "1 when the dependency answered this scrape, else 0.", labels=["dependency"]
        )
        ready.add_metric(["database"], 1 if self._database(families) else 0)
        ready.add_metric(["redis"], 1 if self._queue(families) else 0)
        yield ready
        yield from families

    def _database(self, out: list[Metric]) -> bool:
        now = utcnow()
        ages = [
            func.sum(case((Referral.created_at <= now - timedelta(seconds=s), 1), else_=0))
            for s in UNACKNOWLEDGED_AGES.values()
        ]
        try:
            with self.rt.db.engine.connect() as connection:
                by_status = connection.execute(select(Referral.status, func.count()).group_by(Referral.status)).all()
                waiting = connection.execute(select(*ages).where(Referral.status.in_(WAITING))).one()
        except Exception as exc:
            log.warning("metrics: database unreachable: %s", type(exc).__name__)
            return False
        statuses = GaugeMetricFamily(f"{NS}_referrals", "Referrals, by status.", labels=["status"])
        for status, count in by_status:
            statuses.add_metric([status], count)
        unacknowledged = GaugeMetricFamily(
            f"{NS}_referrals_unacknowledged",
            "Referrals not acknowledged yet (new or routed), older than the label (cumulative).",
            labels=["older_than"],
        )
        for label, count in zip(UNACKNOWLEDGED_AGES, waiting, strict=True):
            unacknowledged.add_metric([label], count or 0)
        out += [statuses, unacknowledged]
        return True

    def _queue(self, out: list[Metric]) -> bool:
        from rq import Worker

        queue = self.rt.queue
        try:
            depth = {
                "queued": queue.count,
                "inbox": self.rt.redis.llen(keys.routing_inbox()),
                "started": queue.started_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "failed": queue.failed_job_registry.count,
            }
            workers = Worker.count(queue=queue)
        except Exception as exc:
            log.warning("metrics: redis unreachable: %s", type(exc).__name__)
            return False
        jobs = GaugeMetricFamily(
            f"{NS}_queue_jobs",
            "Jobs on the RQ queue: queued (waiting for a worker), started, scheduled (waiting for a retry), failed; "
            "inbox: stored reports and visits handed over for routing that no worker has taken yet.",
            labels=["state"],
        )
        for state, count in depth.items():
            jobs.add_metric([state], count)
        out += [jobs, GaugeMetricFamily(f"{NS}_queue_workers", "RQ workers listening on the queue.", value=workers)]
        return True


def exposition(rt: Runtime) -> bytes:
    """The Prometheus text of every process's counters plus what is read at scrape time."""
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(rt))
    if rt.settings.prometheus_multiproc_dir:
        processes = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(processes, path=rt.settings.prometheus_multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(state)


def prepare_multiproc_dir(path: str) -> None:
    """Make an empty folder for the multiprocess files (before any process of the gateway starts:
    a file of a dead process would otherwise be summed with the new ones forever)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if _METRICS_FILE.fullmatch(name):
            os.unlink(os.path.join(path, name))


@lru_cache(maxsize=8)
def _networks(allow: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in allow.split(",") if part.strip())


def allowed(rt: Runtime) -> bool:
    """True for a request with the METRICS_TOKEN (bearer or ?token=), or, without one, a direct
    request (no proxy header) from an address in METRICS_ALLOW."""
    settings = rt.settings
    if settings.metrics_token:
        header = request.headers.get("Authorization", "")
        given = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else request.args.get("token", "")
        if given and hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            return True
    if not settings.metrics_allow or "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(settings.metrics_allow))


@bp.get("/metrics")
def metrics():  # type: ignore[no-untyped-def]
    rt = runtime.current()
    if not allowed(rt):
        abort(403, description="metrics need the METRICS_TOKEN, or a request from an address in METRICS_ALLOW")
    return Response(exposition(rt), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
