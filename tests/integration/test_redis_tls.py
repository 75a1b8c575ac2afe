"""Redis with an ACL user and TLS only: a throwaway CA, a real redis-server started by the
project's service code, a gold date published through it and read back."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr
from pyspark.sql import SparkSession

from jobs.pipeline.airflow_tasks import REDIS_CONN_ID, connections, expire_stale_cache_versions_via_provider
from jobs.stages import publish as publish_aggregates
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_read import CacheReader
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import RedisUnavailable, cassandra_session, open_redis, redis_client
from jobs.runtime.config import RedisTlsConf, Settings
from jobs.stores.lake import LakeTableRef
from jobs.devstack.local_pki import issue_local_pki
from jobs.devstack.redis_server import RedisServer, ServerTls
from schemas import cache_keys, gold
from builders.cache import stored_value
from builders.gold import meter_day, meter_daily

DAY = date(2024, 10, 27)
USER = "gridlake-publisher"
KEYSPACE = "grid_tls_test"
PREFIX = "gridlake-tls-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tls_redis(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A TLS-only Redis on a free loopback port, client certificates required, the default
    user off and one ACL user whose password exists only in these settings."""
    folder = tmp_path_factory.mktemp("redis-tls")
    pki = issue_local_pki(folder, days=1)
    settings = services.model_copy(deep=True)
    settings.state_dir = folder / "state"
    settings.lake.root = str(folder / "lake")
    settings.cassandra.keyspace = KEYSPACE
    settings.cache.prefix = PREFIX
    settings.cache.durable_mode = "write-behind"
    settings.redis.url = f"rediss://127.0.0.1:{free_port()}/0"
    settings.redis.username = USER
    settings.redis.password = SecretStr(secrets.token_urlsafe(24))
    settings.redis.tls = RedisTlsConf(ca_file=pki["ca"], cert_file=pki["client"], key_file=pki["client-key"])
    server = RedisServer(settings, tls=ServerTls(cert_file=pki["server"], key_file=pki["server-key"],
                                                 ca_file=pki["ca"], auth_clients=True))
    server.launch()
    try:
        server.wait_ready(30)
        yield settings
    finally:
        server.stop()


@pytest.fixture(scope="module")
def published(tls_redis: Settings, spark: SparkSession) -> Iterator[Settings]:
    """One gold date (two meters on one feeder) published through the TLS server, write-behind."""
    settings = tls_redis
    frames = {gold.METER_DAILY: meter_daily(spark, [
        meter_day("M-T1", DAY, "12.345", feeder_id="F-T"),
        meter_day("M-T2", DAY, "7.500", completeness="0.9500", feeder_id="F-T")])}
    for table in (gold.METER_HOURLY, gold.FEEDER_DAILY, gold.SUBSTATION_DAILY, gold.REGION_DAILY, gold.TOU_DAILY,
                  gold.METER_MONTHLY):
        frames[table] = spark.createDataFrame([], table.spark_schema())
    for table, frame in frames.items():
        LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format).replace_partition(frame, DAY)
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
    publish_aggregates.main(settings, DAY, spark)
    yield settings
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")


def test_a_gold_date_is_published_and_read_back_over_tls(published: Settings) -> None:
    with cassandra_session(published) as session:
        reader = CacheReader(redis_client(published), DurableCopies(session, KEYSPACE), ttl_s=3600, prefix=PREFIX)
        assert stored_value(cache_keys.METER_DAILY, reader.get_meter_daily("M-T1", "2024-10-27")) == {
            "kwh_import": "12.345", "completeness": "1.0000"}
        top = reader.get(cache_keys.AREA_TOP_CONSUMERS, level="feeder", area_id="F-T", date="2024-10-27")
        assert stored_value(cache_keys.AREA_TOP_CONSUMERS, top) == [{"meter_id": "M-T1", "kwh_import": 12.345},
                                                                    {"meter_id": "M-T2", "kwh_import": 7.5}]


def test_the_writeback_worker_takes_its_credentials_from_the_environment(published: Settings) -> None:
    conf = published.redis
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
           "GRIDLAKE_CACHE__PREFIX": PREFIX, "GRIDLAKE_REDIS__URL": conf.url, "GRIDLAKE_REDIS__USERNAME": USER,
           "GRIDLAKE_REDIS__PASSWORD": conf.password.get_secret_value(),
           "GRIDLAKE_REDIS__TLS__CA_FILE": str(conf.tls.ca_file),
           "GRIDLAKE_REDIS__TLS__CERT_FILE": str(conf.tls.cert_file),
           "GRIDLAKE_REDIS__TLS__KEY_FILE": str(conf.tls.key_file)}
    done = subprocess.run([str(Path(sys.executable).parent / "gridlake"), "writeback", "run", "--once",
                           "--name", "tls-worker"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    with cassandra_session(published) as session:
        durable = DurableCopies(session, KEYSPACE)
        copy = durable.read(cache_keys.METER_DAILY, {"meter_id": "M-T2", "date": "2024-10-27"})
        assert stored_value(cache_keys.METER_DAILY, copy) == {"kwh_import": "7.500", "completeness": "0.9500"}


def test_the_maintenance_reaches_the_tls_redis_as_the_acl_user_through_the_provider(
        tls_redis: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """grid_maintenance's expiry of stale versions goes through the Redis provider's connection,
    which conf gives the ACL user and TLS: a version no pointer names gets the grace period."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}", json.dumps(connections(tls_redis)[REDIS_CONN_ID]))
    client = redis_client(tls_redis)
    orphan = f"{PREFIX}:vorphan-tls:meter:{{M-T9}}:daily:2024-10-27"
    client.set(orphan, "{}")
    try:
        assert expire_stale_cache_versions_via_provider(tls_redis) == {"vorphan-tls": 1}
        assert 0 < client.ttl(orphan) <= tls_redis.cache.grace_s
    finally:
        client.delete(orphan)


@pytest.mark.parametrize(("username", "password", "as_user", "hint"), [
    (USER, "not-the-password", USER, "check redis.username and GRIDLAKE_REDIS__PASSWORD"),
    (None, None, "default", "set GRIDLAKE_REDIS__PASSWORD"),
], ids=["wrong-password", "default-user-disabled"])
def test_a_refused_login_fails_with_one_clear_line(tls_redis: Settings, username, password, as_user, hint) -> None:
    wrong = tls_redis.model_copy(deep=True)
    wrong.redis.username = username
    wrong.redis.password = SecretStr(password) if password else None
    with pytest.raises(RedisUnavailable) as failure:
        open_redis(wrong.redis)
    message = str(failure.value)
    address = wrong.redis.url.removeprefix("rediss://").removesuffix("/0")
    assert "\n" not in message
    assert message.startswith(f"redis {address}: authentication as user '{as_user}' refused (")
    assert message.endswith(f"); {hint}")
    assert "not-the-password" not in message


def test_plaintext_to_the_tls_port_is_refused(tls_redis: Settings) -> None:
    plain = tls_redis.model_copy(deep=True)
    plain.redis.url = tls_redis.redis.url.replace("rediss://", "redis://")
    assert not plain.redis.tls_on
    with pytest.raises(RedisUnavailable, match=r"cannot connect over plain TCP"):
        open_redis(plain.redis)


def test_tls_without_a_client_certificate_is_refused(tls_redis: Settings) -> None:
    anonymous = tls_redis.model_copy(deep=True)
    anonymous.redis.tls = RedisTlsConf(ca_file=tls_redis.redis.tls.ca_file)
    with pytest.raises(RedisUnavailable, match=r"cannot connect over TLS"):
        open_redis(anonymous.redis)


@pytest.mark.parametrize("command", [
    ["cache", "get", "--meter", "M-T1", "--date", "2024-10-27"],
    ["writeback", "run", "--once", "--name", "refused-worker"],
], ids=["cache-get", "writeback-run"])
def test_the_cli_reports_a_refused_login_in_one_line(tls_redis: Settings, command: list[str]) -> None:
    conf = tls_redis.redis
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
           "GRIDLAKE_CACHE__PREFIX": PREFIX, "GRIDLAKE_REDIS__URL": conf.url, "GRIDLAKE_REDIS__USERNAME": USER,
           "GRIDLAKE_REDIS__PASSWORD": "not-the-password", "GRIDLAKE_REDIS__TLS__CA_FILE": str(conf.tls.ca_file),
           "GRIDLAKE_REDIS__TLS__CERT_FILE": str(conf.tls.cert_file),
           "GRIDLAKE_REDIS__TLS__KEY_FILE": str(conf.tls.key_file), "COLUMNS": "500"}
    done = subprocess.run([str(Path(sys.executable).parent / "gridlake"), *command], env=env, capture_output=True,
                          text=True, timeout=180)
    address = conf.url.removeprefix("rediss://").removesuffix("/0")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()], "one line, no traceback"
    assert done.stderr.startswith(f"error: redis {address}: authentication as user '{USER}' refused (")
    assert "not-the-password" not in done.stderr
