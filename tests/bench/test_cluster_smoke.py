"""Redis behind Sentinel, quickly: a primary, a replica and three Sentinels (the rehearsal's own
RedisGroup) on 127.0.0.1; a whole report across a SENTINEL FAILOVER, the clients following a
killed primary, the settings. (The whole rehearsal runs in ./ijwi bench --only cluster.)"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from cryptography.fernet import Fernet
from rq import Queue, SimpleWorker
from sqlalchemy import select

from bench import cluster
from bench.cluster import MASTER_NAME, RedisGroup
from gateway import keys, redis_conn
from gateway.config import ConfigError, Settings, load_settings, sentinel_addresses
from gateway.models import Message, Referral
from gateway.runtime import QUEUE_NAME, Runtime
from tests.helpers import VOLUNTEER_PHONE, Dial, reference_in, register_officers, register_volunteer
from workers import inbox

# The smoke test's ports (five from here), apart from the rehearsal's.
PORT = int(os.environ.get("BENCH_CLUSTER_TEST_PORT", "7550"))

# The job the killed-primary test queues (and takes off again).
JOB_ID = "smoke-sweep"

needs_sentinel = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("redis-sentinel") is None,
    reason="redis-server or redis-sentinel not installed (apt-get install redis-server redis-sentinel)",
)


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisGroup]:
    redis_group = RedisGroup(tmp_path_factory.mktemp("sentinels"), PORT, say=lambda s: None)
    try:
        yield redis_group.start()
    finally:
        redis_group.stop()


def sentinel_settings(settings: Settings, group: RedisGroup) -> Settings:
    return replace(settings, redis_url="", redis_sentinels=group.sentinels, redis_sentinel_master=MASTER_NAME)


@needs_sentinel
def test_the_clients_wait_out_a_killed_primary_and_carry_on_with_the_new_one(settings, group):
    rt = Runtime(sentinel_settings(settings, group))
    redis_conn.be_patient(rt.redis)
    redis_conn.be_patient(rt.rq_redis)
    rt.redis.set("ijwi:smoke", "kept", ex=60)
    assert rt.redis.execute_command("WAIT", 1, 5000) == 1, "the replica is not copying"
    assert redis_conn.round_trip(rt.redis, ("GET", "ijwi:smoke")) == ["kept"]  # on this thread's own connection
    old = group.primary()
    try:
        group.kill(old)
        # Each retried until the Sentinels name a new primary.
        assert redis_conn.round_trip(rt.redis, ("GET", "ijwi:smoke")) == ["kept"]
        assert rt.redis.get("ijwi:smoke") == "kept"
        job = Queue(QUEUE_NAME, connection=rt.rq_redis).enqueue_call("workers.jobs.sweep", job_id=JOB_ID)
        assert job.get_status(refresh=True) == "queued"
        assert group.primary() != old
    finally:
        group.restart_as_replica(old)
        Queue(QUEUE_NAME, connection=rt.rq_redis).empty()
        rt.db.engine.dispose()


@needs_sentinel
def test_a_report_whose_session_spans_a_sentinel_failover_is_confirmed_and_alerted(app, app_with, group):
    # `app` first: it empties the tables (officers an earlier test registered would be alerted too).
    app = app_with(redis_url="", redis_sentinels=group.sentinels, redis_sentinel_master=MASTER_NAME)
    rt: Runtime = app.extensions["ijwi"]
    register_officers(rt)
    register_volunteer(rt)
    dial = Dial(app.test_client(), VOLUNTEER_PHONE)
    dial.send("1", "1", "1", "3", "1")  # report: violence, in danger now, 12-17, girl
    assert rt.redis.execute_command("WAIT", 1, 10000) == 1, "the replica has not the session"
    old = group.primary()
    group.failover()
    new = group.wait_for_new_primary(old)
    time.sleep(redis_conn.MASTER_CHECK)  # the old primary still takes writes: the clients must leave it

    dial.send("1", "Seen at the market")
    ref = reference_in(dial.send("1"))
    # The session and the report handed over for routing are on the primary the Sentinels name, not
    # on the old one (which the Sentinels demote later, dropping what it took meanwhile).
    on_new = redis.Redis(port=new, decode_responses=True)
    kept = on_new.get(keys.ussd_session(dial.session_id))
    assert kept is not None and json.loads(rt.crypto.unseal(kept))["last_text"] == dial.text  # the last hop's
    assert on_new.llen(keys.routing_inbox()) == 1
    assert inbox.move(rt) == 1
    assert Queue(QUEUE_NAME, connection=redis.Redis(port=new)).count == 1
    SimpleWorker([QUEUE_NAME], connection=rt.rq_redis).work(burst=True)

    with rt.db.reading() as session:
        referral = session.scalar(select(Referral).where(Referral.reference == ref))
        assert referral is not None
        alerts = session.scalars(select(Message).where(Message.referral_id == referral.id)).all()
    assert len(alerts) == 3 and all(m.status == "sent" for m in alerts)  # social worker, psychologist, sector


def test_redis_sentinels_is_read_as_host_port_pairs_and_a_bad_one_names_the_variable():
    base = {"SECRET_KEY": "s", "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    settings = load_settings({**base, "REDIS_SENTINELS": "10.0.0.1:26379, redis-b:26380", "REDIS_SENTINEL_MASTER": "x"})
    assert settings.redis_sentinel_master == "x"
    assert sentinel_addresses(settings.redis_sentinels) == [("10.0.0.1", 26379), ("redis-b", 26380)]
    with pytest.raises(ConfigError, match="REDIS_SENTINELS"):
        load_settings({**base, "REDIS_SENTINELS": "10.0.0.1"})
    with pytest.raises(ConfigError, match="REDIS_URL and REDIS_SENTINELS"):
        load_settings({**base, "REDIS_SENTINELS": "a:1", "REDIS_URL": "redis://a:6379/0"})


def test_the_rehearsal_says_in_one_line_what_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(cluster.shutil, "which", lambda name: None if name == "redis-sentinel" else "/usr/bin/" + name)
    assert cluster.main([]) == 2
    assert capsys.readouterr().err.strip() == "missing: redis-sentinel (apt-get install redis-sentinel)"
