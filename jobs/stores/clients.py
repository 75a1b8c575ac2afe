"""Clients of the stores, built from conf: Cassandra, Elasticsearch, Redis.

Jobs and tests connect through these so that addresses and credentials come from one
place (conf plus the environment for passwords). Redis options (ACL user, password, TLS)
are built once, in ``redis_options``, for every Redis client: single, cluster, Spark tasks, probes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import ConstantBackoff
from cassandra import ConsistencyLevel, ProtocolVersion
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from elasticsearch import Elasticsearch

from jobs.runtime.config import RedisConf, Settings
from jobs.stores.cassandra_profiles import WRITES


def cassandra_cluster(
    hosts: list[str], port: int, timeout_s: float, auth: PlainTextAuthProvider | None = None,
    read_consistency: str = "LOCAL_ONE", write_consistency: str = "LOCAL_QUORUM",
) -> Cluster:
    """A driver Cluster speaking protocol v5 (Cassandra 5.0), token-aware, reading and writing
    (profile WRITES) at the given consistency levels."""

    def profile(level: str) -> ExecutionProfile:
        return ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                                request_timeout=timeout_s, consistency_level=ConsistencyLevel.name_to_value[level])

    return Cluster(hosts, port=port, auth_provider=auth, connect_timeout=timeout_s,
                   control_connection_timeout=timeout_s, protocol_version=ProtocolVersion.V5,
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile(read_consistency),
                                       WRITES: profile(write_consistency)})


@contextmanager
def cassandra_session(settings: Settings, timeout_s: float = 30.0) -> Iterator[Session]:
    """A driver session on the configured cluster, shut down on exit."""
    conf = settings.cassandra
    auth = None
    if conf.username:
        password = conf.password.get_secret_value() if conf.password else ""
        auth = PlainTextAuthProvider(username=conf.username, password=password)
    cluster = cassandra_cluster(conf.hosts, conf.port, timeout_s, auth, conf.read_consistency, conf.write_consistency)
    try:
        yield cluster.connect()
    finally:
        cluster.shutdown()


def elasticsearch_client(settings: Settings) -> Elasticsearch:
    """An Elasticsearch client with retries on timeouts and 429s."""
    conf = settings.elasticsearch
    auth = None
    if conf.username:
        auth = (conf.username, conf.password.get_secret_value() if conf.password else "")
    return Elasticsearch(conf.url, basic_auth=auth, request_timeout=30, retry_on_timeout=True, max_retries=3)


class RedisUnavailable(RuntimeError):
    """Redis refused or could not be reached; the one-line message names the server and the
    conf key to look at (wrong password, TLS on one side only, nobody listening)."""


def redis_options(conf: RedisConf) -> dict[str, Any]:
    """The connection options every Redis client of gridlake uses, single node or cluster,
    driver or Spark task: timeouts, ACL user and password (from the environment), TLS."""
    options: dict[str, Any] = {
        "socket_timeout": conf.socket_timeout_s,
        "socket_connect_timeout": conf.socket_timeout_s,
        "username": conf.username,
        "password": conf.password.get_secret_value() if conf.password else None,
    }
    if conf.tls_on:
        options.update(
            ssl=True,
            ssl_cert_reqs="required",
            ssl_ca_certs=str(conf.tls.ca_file) if conf.tls.ca_file else None,
            ssl_certfile=str(conf.tls.cert_file) if conf.tls.cert_file else None,
            ssl_keyfile=str(conf.tls.key_file) if conf.tls.key_file else None,
            ssl_check_hostname=conf.tls.check_hostname,
        )
    return options


def redis_node(conf: RedisConf, host: str, port: int) -> redis.Redis:
    """A client of one Redis node with the configured options, not yet connected (probes use it)."""
    return redis.Redis(host=host, port=port, **redis_options(conf))


def _describe_failure(conf: RedisConf, where: str, exc: Exception) -> str:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    transport = "TLS" if conf.tls_on else "plain TCP"
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in reason or "NOAUTH" in reason:
        user = conf.username or "default"
        hint = ("set GRIDLAKE_REDIS__PASSWORD" if conf.password is None
                else "check redis.username and GRIDLAKE_REDIS__PASSWORD")
        return f"redis {where}: authentication as user {user!r} refused ({reason}); {hint}"
    return (f"redis {where}: cannot connect over {transport} ({reason}); check redis.url / "
            f"redis.cluster_nodes and redis.tls")


def open_redis(conf: RedisConf, cluster: bool = False, **extra: Any) -> redis.Redis | redis.RedisCluster:
    """A connected client of the configured single server, or of the Redis Cluster of
    ``conf.cluster_nodes``; raises RedisUnavailable with one line when it cannot talk to it."""
    options = {**redis_options(conf), **extra}
    host, port, database = conf.server
    where = ",".join(conf.cluster_nodes) if cluster else f"{host}:{port}"
    try:
        if cluster:
            nodes = [redis.cluster.ClusterNode(host, int(port))
                     for host, _, port in (node.rpartition(":") for node in conf.cluster_nodes)]
            client: redis.Redis | redis.RedisCluster = redis.RedisCluster(startup_nodes=nodes, **options)
        else:
            client = redis.Redis(host=host, port=port, db=database, **options)
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise RedisUnavailable(_describe_failure(conf, where, exc)) from None
    return client


# The serving API's clients retry once, at once (a pooled connection the server closed), and then
# let the caller answer from Cassandra: the clients' default retries back off for seconds.
SERVING_RETRIES = 1
SERVING_BACKOFF_S = 0.01


def serving_redis(conf: RedisConf, cluster: bool = False) -> redis.Redis | redis.RedisCluster:
    """The API's blocking client of the single server or the Redis Cluster, failing fast. A single
    server's client connects on first use, so a worker starts (and restarts) while Redis is down;
    a cluster client must reach one of ``conf.cluster_nodes`` to learn the slots."""
    retry = redis.retry.Retry(ConstantBackoff(SERVING_BACKOFF_S), SERVING_RETRIES)
    if not cluster:
        host, port, database = conf.server
        return redis.Redis(host=host, port=port, db=database, retry=retry, **redis_options(conf))
    return open_redis(conf, cluster=True, retry=retry)


def open_async_redis(conf: RedisConf, cluster: bool = False) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
    """An asyncio client of the configured single server or Redis Cluster, with the same options
    as ``open_redis`` and the serving API's fast failure; it connects on first use."""
    options = {**redis_options(conf),
               "retry": redis.asyncio.retry.Retry(ConstantBackoff(SERVING_BACKOFF_S), SERVING_RETRIES)}
    if cluster:
        nodes = [redis.asyncio.cluster.ClusterNode(host, int(port))
                 for host, _, port in (node.rpartition(":") for node in conf.cluster_nodes)]
        return redis.asyncio.RedisCluster(startup_nodes=nodes, **options)
    host, port, database = conf.server
    return redis.asyncio.Redis(host=host, port=port, db=database, **options)


def redis_client(settings: Settings) -> redis.Redis:
    """A connected client of the configured single server (``redis.url``)."""
    return open_redis(settings.redis)


def redis_cluster_client(settings: Settings) -> redis.RedisCluster:
    """A connected client of the Redis Cluster seeded with ``redis.cluster_nodes``."""
    return open_redis(settings.redis, cluster=True)


def cache_client(settings: Settings) -> redis.Redis | redis.RedisCluster:
    """The serving cache's Redis: the cluster when ``cache.cluster`` says so, else the single server."""
    return open_redis(settings.redis, cluster=settings.cache.cluster)
