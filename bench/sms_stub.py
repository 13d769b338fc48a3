"""A local server playing Africa's Talking's SMS API: answers every send as sent (statusCode 101)
and notes when each request arrived and what it said."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# The path the SDK posts an SMS to.
MESSAGING_PATH = "/version1/messaging"


@dataclass(frozen=True)
class Arrival:
    """One SMS request as the stub saw it (time.monotonic() of arrival)."""

    at: float
    to: str
    message: str


def answer(recipients: list[str], ids: itertools.count[int]) -> dict[str, object]:
    """The JSON Africa's Talking answers when every recipient was sent (as the shared success sample)."""
    return {
        "SMSMessageData": {
            "Message": f"Sent to {len(recipients)}/{len(recipients)} Total Cost: RWF {15 * len(recipients)}.0000",
            "Recipients": [
                {
                    "statusCode": 101,
                    "number": number,
                    "cost": "RWF 15.0000",
                    "status": "Success",
                    "messageId": f"ATXid_bench{next(ids):026d}",
                }
                for number in recipients
            ],
        }
    }


class SmsStub:
    """ThreadingHTTPServer on 127.0.0.1 (port 0: a free one); arrivals() lists what came."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        # (host, port) of every client connection a request came on.
        self._clients: set[tuple[str, int]] = set()
        # Seconds before each answer: a provider across the internet (0: at once).
        self.delay = 0.0
        ids = itertools.count(1)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                if self.path.split("?")[0] != MESSAGING_PATH:
                    self._send(404, {"error": "not found"})
                    return
                recipients = [n for n in form.get("to", [""])[0].split(",") if n]
                message = form.get("message", [""])[0]
                with stub._lock:
                    stub._arrivals.extend(Arrival(arrived, n, message) for n in recipients)
                    stub._clients.add(self.client_address[:2])
                if stub.delay:
                    time.sleep(stub.delay)
                self._send(201, answer(recipients, ids))

            def _send(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="sms-stub")

    def start(self) -> SmsStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def connections(self) -> int:
        """How many client connections the requests came on (fewer than requests: connections reused)."""
        with self._lock:
            return len(self._clients)

    def clear(self) -> None:
        with self._lock:
            self._arrivals.clear()
            self._clients.clear()
