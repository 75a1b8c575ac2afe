"""`gridlake cache get|promote|abort` and `writeback run`: the serving cache as the API reads it,
the release of a candidate version, and the write-behind worker."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from jobs.cli.common import DateOption, EnvOption, console, fail, parse_dates, settings_for

cache_app = typer.Typer(help="Read the serving cache as the API does; promote or abort a day's candidate version.",
                        no_args_is_help=True)
writeback_app = typer.Typer(help="Drain the write-behind stream of durable cache copies into Cassandra.",
                            no_args_is_help=True)


@cache_app.command("get")
def cache_get_command(
    meter: Annotated[str, typer.Option("--meter", help="Meter id.")],
    date_: DateOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    env: EnvOption = None,
) -> None:
    """Print what the API would serve for a meter's day (Redis, or Cassandra on a miss)."""
    from jobs.stores.cache_durable import DurableCopies
    from jobs.stores.cache_read import CacheReader
    from jobs.stores.clients import RedisUnavailable, cache_client, cassandra_session

    settings = settings_for(env)
    day = parse_dates(date_, None)[0]
    try:
        client = cache_client(settings)
    except RedisUnavailable as exc:
        fail(str(exc))
    with cassandra_session(settings) as session:
        reader = CacheReader(client, DurableCopies(session, settings.cassandra.keyspace),
                             ttl_s=settings.cache.ttl_days * 86400, prefix=settings.cache.prefix)
        document = reader.get_meter_daily(meter, day.isoformat())
    if document is None:
        fail(f"no published figures for meter {meter} on {day}")
    if as_json:
        sys.stdout.write(document.decode() + "\n")
        return
    table = Table("field", "value", title=f"{meter} {day}")
    for field, value in sorted(json.loads(document)["figures"].items()):
        table.add_row(field, str(value))
    console.print(table)


def _release(date_: str, env: str | None, promote: bool) -> None:
    """Promote or abort the candidates (figures and search indices) of a day."""
    from jobs.stores.cache_versions import PublishError
    from jobs.stores.clients import RedisUnavailable
    from jobs.stores.data_release import abort_release, promote_release

    settings = settings_for(env)
    day = parse_dates(date_, None)[0]
    try:
        release = (promote_release if promote else abort_release)(settings, day)
    except (PublishError, RedisUnavailable) as exc:
        fail(str(exc))
    indices = ", ".join(release.indices) or "none"
    if promote:
        console.print(f"promoted {day}: figures {release.version or '(no candidate)'} live, {release.copies:,} "
                      f"durable copies sent; search indices live: {indices}", highlight=False)
    else:
        console.print(f"aborted {day}: figures {release.version or '(no candidate)'} dropped; search indices "
                      f"dropped: {indices}; the canary pool serves the live version again", highlight=False)


@cache_app.command("promote")
def cache_promote_command(date_: DateOption, env: EnvOption = None) -> None:
    """Make a day's candidate figures and search indices live for everyone, without the checks
    grid_daily's release task runs."""
    _release(date_, env, promote=True)


@cache_app.command("abort")
def cache_abort_command(date_: DateOption, env: EnvOption = None) -> None:
    """Drop a day's candidate figures and search indices: the canary pool goes back to the live ones."""
    _release(date_, env, promote=False)


@writeback_app.command("replay")
def writeback_replay_command(env: EnvOption = None) -> None:
    """Put the dead-lettered batches of copies back on the stream (after fixing what failed them)."""
    from jobs.stores.cache_writeback import WriteBehindQueue
    from jobs.stores.clients import RedisUnavailable, cache_client

    settings = settings_for(env)
    try:
        moved = WriteBehindQueue(cache_client(settings), settings.cache.prefix).replay_dead()
    except RedisUnavailable as exc:
        fail(str(exc))
    console.print(f"put {moved:,} dead-lettered batches back on the write-behind stream; "
                  "`gridlake writeback run` writes them", highlight=False)


@writeback_app.command("run")
def writeback_run_command(
    name: Annotated[str, typer.Option(help="This worker's consumer name (unique per worker).")] = "worker-1",
    batch: Annotated[int, typer.Option(min=1, help="Stream entries (published batches of copies) read per call.")] = 10,
    once: Annotated[bool, typer.Option("--once", help="Stop when the stream is drained.")] = False,
    env: EnvOption = None,
) -> None:
    """Write queued durable copies to Cassandra; reclaim a crashed worker's entries; dead-letter failures."""
    from jobs.stores.cache_durable import DurableCopies
    from jobs.stores.cache_writeback import WriteBehindWorker
    from jobs.stores.clients import RedisUnavailable, cache_client, cassandra_session

    settings = settings_for(env)
    conf = settings.cache
    try:
        client = cache_client(settings)
    except RedisUnavailable as exc:
        fail(str(exc))
    with cassandra_session(settings) as session:
        worker = WriteBehindWorker(client, DurableCopies(session, settings.cassandra.keyspace), name,
                                   prefix=conf.prefix, batch=batch, max_deliveries=conf.writeback_max_deliveries,
                                   claim_idle_ms=conf.writeback_claim_idle_ms)
        while True:
            report = worker.drain()
            if report.written or report.dead or report.reclaimed:
                console.print(f"{name}: wrote {report.written:,} copies, reclaimed {report.reclaimed:,} batches, "
                              f"dead-lettered {report.dead:,} batches, trimmed {report.trimmed:,} from the stream",
                              highlight=False)
            if once:
                return
