"""`gridlake services up|down|status`: the local Cassandra, Elasticsearch and Redis, and on
request the Redis Cluster, memcached, the API and its nginx edge."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from jobs.cli.common import (ApiOption, ClusterOption, EdgeOption, EnvOption, MemcachedOption, console, fail,
                             settings_for)

services_app = typer.Typer(help="Start, stop and check the local Cassandra, Elasticsearch and Redis.",
                           no_args_is_help=True)


@services_app.command("up")
def services_up_command(
    env: EnvOption = None,
    redis_cluster: ClusterOption = False,
    memcached: MemcachedOption = False,
    api: ApiOption = False,
    edge: EdgeOption = False,
    es_nodes: Annotated[int | None, typer.Option(help="Elasticsearch nodes in the one JVM.")] = None,
) -> None:
    """Start the services (idempotent) and wait until each answers."""
    from jobs.devstack import ServiceError, local_services, services_status, services_up
    from jobs.runtime.maven import MavenError

    settings = settings_for(env)
    if es_nodes is not None:
        settings.services.elasticsearch.nodes = es_nodes
    services = local_services(settings, redis_cluster, memcached, api, edge)
    try:
        with console.status("starting " + ", ".join(s.name for s in services) + " …"):
            ready_after = services_up(services, settings.services.start_timeout_s)
    except (ServiceError, MavenError) as exc:
        fail(str(exc))
    for status in services_status(services):
        console.print(f"[green]up[/] {status.name:<14} {status.address:<22} {status.version or '?':<8} "
                      f"ready after {ready_after[status.name]}s")


@services_app.command("down")
def services_down_command(env: EnvOption = None) -> None:
    """Stop the services gridlake started (by pid file); other processes are left alone."""
    from jobs.devstack import local_services, services_down

    everything = local_services(settings_for(env), redis_cluster=True, memcached=True, api=True, edge=True)
    stopped = services_down(everything[::-1])
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@services_app.command("status")
def services_status_command(
    env: EnvOption = None,
    redis_cluster: ClusterOption = False,
    memcached: MemcachedOption = False,
    api: ApiOption = False,
    edge: EdgeOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Print each service's health, version and address; exit 0 only if all are healthy."""
    from jobs.devstack import local_services, services_status

    statuses = services_status(local_services(settings_for(env), redis_cluster, memcached, api, edge))
    if as_json:
        sys.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2) + "\n")
    else:
        table = Table("service", "health", "version", "address", "pid", "RSS MiB", "detail")
        for s in statuses:
            health = "[green]healthy[/]" if s.healthy else "[red]down[/]"
            table.add_row(s.name, health, s.version or "-", s.address, str(s.pid or "-"), str(s.resident_mib),
                          s.detail)
        console.print(table)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)
