"""Real local servers for development and tests: Cassandra, Elasticsearch, Redis, memcached, the
API and its nginx edge.

`gridlake services up|down|status` and the test session both go through here, so the
tests run against exactly what a user starts.
"""

from __future__ import annotations

import time

from jobs.devstack.api_server import ApiServer
from jobs.devstack.base import LocalService, ServiceStatus
from jobs.devstack.cassandra_server import CassandraServer
from jobs.devstack.edge_server import EdgeServer
from jobs.devstack.elasticsearch_server import ElasticsearchServer
from jobs.devstack.memcached_server import MemcachedServer
from jobs.devstack.process import ServiceError
from jobs.devstack.redis_server import RedisCluster, RedisServer
from jobs.runtime.config import Settings

__all__ = ["ServiceError", "ServiceStatus", "local_services", "services_up", "services_down", "services_status"]


def local_services(settings: Settings, redis_cluster: bool = False, memcached: bool = False,
                   api: bool = False, edge: bool = False) -> list[LocalService]:
    """The services gridlake runs locally, the Redis Cluster, memcached, the API and the edge
    only when asked for. The API comes after the stores (it connects to them as it starts);
    with the edge, one API instance per local address of its pools, then nginx."""
    services: list[LocalService] = [CassandraServer(settings), ElasticsearchServer(settings), RedisServer(settings)]
    if redis_cluster:
        services.append(RedisCluster(settings))
    if memcached:
        services.append(MemcachedServer(settings))
    instances = {(settings.api.host, settings.api.port): "live"} if api or edge else {}
    if edge:
        for pool, addresses in (("live", settings.edge.live_pool), ("candidate", settings.edge.candidate_pool)):
            for address in addresses:
                host, _, port = address.rpartition(":")
                if host.startswith("127.") or host in ("localhost", "::1"):
                    instances[(host, int(port))] = pool
    services += [ApiServer(settings, host, port, pool) for (host, port), pool in instances.items()]
    if edge:
        services.append(EdgeServer(settings))
    return services


def services_up(services: list[LocalService], timeout_s: float) -> dict[str, float]:
    """Launch every store first (they boot in parallel), then wait for each in turn; then the
    API instances, which connect to them as they start; then the edge, which copies the API's
    static documents.

    Idempotent: services already running as ours are left as they are (the edge reloads its
    configuration rendered anew). Returns the seconds from launch until each answered.
    """
    started = time.monotonic()
    apis = [service for service in services if isinstance(service, ApiServer)]
    edges = [service for service in services if isinstance(service, EdgeServer)]
    stores = [service for service in services if service not in apis and service not in edges]
    ready_after: dict[str, float] = {}
    for wave in (stores, apis, edges):
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
