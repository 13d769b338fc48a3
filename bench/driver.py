"""Whole sessions over HTTP from Python: for confirm-to-SMS, worker throughput and Redis memory."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from bench.paths import SessionPath

# A reference number on an END screen.
REFERENCE = re.compile(r"\b\d{7}\b")


@dataclass(frozen=True)
class Walked:
    """One session walked: the reference on its END screen and when that answer came (monotonic)."""

    reference: str
    confirmed_at: float


class Caller:
    """Dials the gateway at url; volunteer phones are lent to one session at a time."""

    def __init__(self, url: str, token: str, volunteer_phones: Sequence[str], run: int) -> None:
        self.url = f"{url}/ussd?token={token}"
        self.run = run
        self._free: queue.Queue[str] = queue.Queue()
        for phone in volunteer_phones:
            self._free.put(phone)
        self._local = threading.local()
        self._count = iter(range(10**9))
        self._lock = threading.Lock()

    def _http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        http: requests.Session = self._local.session
        return http

    def _next(self) -> int:
        with self._lock:
            return next(self._count)

    def walk(self, path: SessionPath, hops: int | None = None) -> Walked | None:
        """Send the path's hops (all, or the first hops); the END's reference if it was whole."""
        n = self._next()
        volunteer = path.kind == "volunteer"
        phone = self._free.get() if volunteer else f"+25073{self.run % 100:02d}{n % 100000:05d}"
        try:
            last = len(path.inputs) if hops is None else hops
            reply = ""
            for hop in range(last + 1):
                form = {
                    "sessionId": f"ATUid_drive{self.run}_{n}",
                    "serviceCode": "*801#",
                    "phoneNumber": phone,
                    "networkCode": "63510",
                    "text": "*".join(path.inputs[:hop]),
                }
                response = self._http().post(self.url, data=form, timeout=15)
                reply = response.text
                if response.status_code != 200 or not reply.startswith(("CON ", "END ")):
                    raise RuntimeError(f"hop {hop}: {response.status_code} {reply[:80]!r}")
            at = time.monotonic()
            if hops is not None:
                return None
            found = REFERENCE.search(reply)
            if not reply.startswith("END ") or found is None:
                raise RuntimeError(f"the session did not end with a reference: {reply[:80]!r}")
            return Walked(found.group(0), at)
        finally:
            if volunteer:
                self._free.put(phone)

    def at_rate(self, paths: Sequence[SessionPath], rate: float, count: int) -> list[Walked]:
        """Start count sessions, one every 1/rate seconds (rate 0: all at once on 8 threads)."""
        pool = ThreadPoolExecutor(max_workers=8 if rate == 0 else max(4, int(rate * 4)))
        started = time.monotonic()
        futures = []
        for i in range(count):
            if rate:
                time.sleep(max(0.0, started + i / rate - time.monotonic()))
            futures.append(pool.submit(self.walk, paths[i % len(paths)]))
        pool.shutdown(wait=True)
        return [w for f in futures if (w := f.result()) is not None]

    def open_sessions(self, paths: Sequence[SessionPath], count: int, hops: int) -> None:
        """count sessions left after hops hops (as if the callers were still thinking)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: self.walk(paths[i % len(paths)], hops), range(count)))
