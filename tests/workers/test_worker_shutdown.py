"""A real worker process (python -m workers) stopped while it sends an SMS: the SMS is sent
once, or left for the sweeper to queue again; never lost."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bench.sms_stub import SmsStub
from gateway.clock import utcnow
from gateway.config import Settings
from gateway.metrics import prepare_multiproc_dir
from gateway.models import Message
from gateway.runtime import Runtime
from gateway.sms import outbox
from tests.helpers import SOCIAL_WORKER, start_worker
from workers import jobs

# Seconds the provider takes to answer: the send is in hand when the signal comes.
PROVIDER_DELAY = 1.0


def _stop_worker_mid_send(rt: Runtime, settings: Settings, metrics_dir: Path, sig: int) -> tuple[int, int, str]:
    """Queue one SMS, start a worker, send it sig while the provider is answering;
    (the worker's exit status, the SMS requests the provider got, its output)."""
    prepare_multiproc_dir(str(metrics_dir))
    stub = SmsStub().start()
    stub.delay = PROVIDER_DELAY
    # Its answer to a killed worker finds the connection closed: nothing to report.
    stub.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    with rt.db.transaction() as session:
        message_id = outbox.add(session, to=SOCIAL_WORKER, body="Ijwi test", kind="reply").id
    outbox.dispatch(rt, [message_id])
    log = metrics_dir.parent / "worker.log"
    worker = start_worker(
        settings,
        log,
        SMS_BACKEND="africastalking",
        AT_USERNAME="sandbox",
        AT_API_KEY="test-api-key",
        AT_API_BASE_URL=stub.url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    try:
        deadline = time.monotonic() + 30
        while not stub.arrivals():
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never sent the SMS"
            time.sleep(0.05)
        # The provider has not answered yet. SIGTERM goes to the worker (as a supervisor's stop);
        # SIGKILL to its whole process group (as a machine or container dying).
        if sig == signal.SIGKILL:
            os.killpg(worker.pid, sig)
        else:
            worker.send_signal(sig)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        stub.stop()
    return worker.returncode, len(stub.arrivals()), log.read_text(errors="replace")


def _message(rt: Runtime) -> Message:
    with rt.db.reading() as session:
        message = session.scalar(select(Message))
        assert message is not None
        return message


def test_sigterm_lets_the_worker_finish_the_sms_in_hand_then_stop(rt, app_with, settings, tmp_path: Path):
    status, requests, output = _stop_worker_mid_send(rt, settings, tmp_path / "metrics", signal.SIGTERM)
    assert status == 0, output
    assert "warm shut down requested" in output
    assert all(json.loads(line)["level"] for line in output.splitlines() if line.strip())  # JSON lines
    assert requests == 1
    sent = _message(rt)
    assert sent.status == "sent" and sent.provider_message_id
    assert rt.queue.failed_job_registry.count == rt.sending_queue.failed_job_registry.count == 0
    # The worker's counters are in the shared folder, and /metrics sums them.
    scrape = app_with(prometheus_multiproc_dir=str(tmp_path / "metrics")).test_client().get("/metrics")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape.get_data(as_text=True))
        for s in family.samples
    }
    assert samples[("ijwi_sms_sent_total", (("code", "101"), ("kind", "reply")))] == 1
    assert samples[("ijwi_sms_send_seconds_count", ())] == 1
    assert samples[("ijwi_sms_send_seconds_sum", ())] >= PROVIDER_DELAY


def test_a_worker_killed_mid_send_leaves_the_sms_for_the_sweeper(rt, settings, tmp_path: Path):
    status, requests, output = _stop_worker_mid_send(rt, settings, tmp_path / "metrics", signal.SIGKILL)
    assert status == -signal.SIGKILL, output
    assert requests == 1
    assert _message(rt).status == "sending"  # cut off before the provider's answer was recorded
    # The sweeper finds it once it has waited STALLED_AFTER, and the next send goes out.
    assert jobs.sweep(now=utcnow() + timedelta(seconds=outbox.STALLED_AFTER + 60))["messages"] == 1
    assert rt.sending_queue.fetch_job(f"sms-{_message(rt).id}") is not None
