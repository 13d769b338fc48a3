"""The floor for this stack: a minimal Flask USSD endpoint doing one Redis read and one write.

Served by the Procfile's web line with this app instead ("bench.floor_wsgi:app", which builds it from REDIS_URL).
"""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, request

# Seconds the floor's per-session value lives (as a USSD session's state would).
TTL = 600


def create_app(redis_url: str | None = None) -> Flask:
    app = Flask(__name__)
    client = redis.Redis.from_url(redis_url or os.environ["REDIS_URL"], decode_responses=True, socket_timeout=5)

    @app.post("/ussd")
    def ussd() -> Response:
        key = "floor:" + request.form.get("sessionId", "")
        hops = int(client.get(key) or 0)
        client.set(key, str(hops + 1), ex=TTL)
        return Response(f"CON hop {hops + 1}\n1. Next", mimetype="text/plain")

    return app
