"""Clients of the stores, built from conf: Cassandra, Elasticsearch, Redis.

Jobs and tests connect through these so that addresses and credentials come from one
place (conf plus the environment for passwords).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from cassandra import ProtocolVersion
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from elasticsearch import Elasticsearch

from jobs.config import Settings


def cassandra_cluster(
    hosts: list[str], port: int, timeout_s: float, auth: PlainTextAuthProvider | None = None
) -> Cluster:
    """A driver Cluster speaking protocol v5 (Cassandra 5.0), token-aware."""
    profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                               request_timeout=timeout_s)
    return Cluster(hosts, port=port, auth_provider=auth, connect_timeout=timeout_s,
                   control_connection_timeout=timeout_s, protocol_version=ProtocolVersion.V5,
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile})


@contextmanager
def cassandra_session(settings: Settings, timeout_s: float = 30.0) -> Iterator[Session]:
    """A driver session on the configured cluster, shut down on exit."""
    conf = settings.cassandra
    auth = None
    if conf.username:
        password = conf.password.get_secret_value() if conf.password else ""
        auth = PlainTextAuthProvider(username=conf.username, password=password)
    cluster = cassandra_cluster(conf.hosts, conf.port, timeout_s, auth)
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


def redis_client(settings: Settings) -> redis.Redis:
    """A Redis client on the configured single server."""
    password = settings.redis.password.get_secret_value() if settings.redis.password else None
    return redis.Redis.from_url(settings.redis.url, password=password, socket_timeout=5)


def redis_cluster_client(settings: Settings) -> redis.RedisCluster:
    """A Redis Cluster client seeded with the configured nodes."""
    password = settings.redis.password.get_secret_value() if settings.redis.password else None
    nodes = []
    for node in settings.redis.cluster_nodes:
        host, _, port = node.rpartition(":")
        nodes.append(redis.cluster.ClusterNode(host, int(port)))
    return redis.RedisCluster(startup_nodes=nodes, password=password, socket_timeout=5)
