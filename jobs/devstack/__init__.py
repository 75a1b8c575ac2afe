"""Real local servers for development and tests: Cassandra, Elasticsearch, Redis, memcached, the API.

`gridlake services up|down|status` and the test session both go through here, so the
tests run against exactly what a user starts.
"""

from __future__ import annotations

import time

from jobs.devstack.api_server import ApiServer
from jobs.devstack.base import LocalService, ServiceStatus
from jobs.devstack.cassandra_server import CassandraServer
from jobs.devstack.elasticsearch_server import ElasticsearchServer
from jobs.devstack.memcached_server import MemcachedServer
from jobs.devstack.process import ServiceError
from jobs.devstack.redis_server import RedisCluster, RedisServer
from jobs.runtime.config import Settings

__all__ = ["ServiceError", "ServiceStatus", "local_services", "services_up", "services_down", "services_status"]


def local_services(settings: Settings, redis_cluster: bool = False, memcached: bool = False,
                   api: bool = False) -> list[LocalService]:
    """The services gridlake runs locally, the Redis Cluster, memcached and the API only when
    asked for. The API comes last: it connects to the stores as it starts."""
    services: list[LocalService] = [CassandraServer(settings), ElasticsearchServer(settings), RedisServer(settings)]
    if redis_cluster:
        services.append(RedisCluster(settings))
    if memcached:
        services.append(MemcachedServer(settings))
    if api:
        services.append(ApiServer(settings))
    return services


def services_up(services: list[LocalService], timeout_s: float) -> dict[str, float]:
    """Launch every store first (they boot in parallel), then wait for each in turn; then the
    API, which connects to them as it starts.

    Idempotent: services already running as ours are left as they are. Returns the
    seconds from launch until each answered.
    """
    started = time.monotonic()
    stores = [service for service in services if not isinstance(service, ApiServer)]
    ready_after: dict[str, float] = {}
    for wave in (stores, [service for service in services if isinstance(service, ApiServer)]):
        for service in wave:
            service.launch()
        for service in wave:
            service.wait_ready(timeout_s)
            ready_after[service.name] = round(time.monotonic() - started, 1)
    return ready_after


def services_down(services: list[LocalService]) -> list[str]:
    """Stop what gridlake started; return the names of the services it stopped."""
    return [service.name for service in services if service.stop()]


def services_status(services: list[LocalService]) -> list[ServiceStatus]:
    """Probe every service."""
    return [service.status() for service in services]
