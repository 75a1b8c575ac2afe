"""`gridlake search` and `index versions|rollback`: finding meters and sensors, and the search indices' versions."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated

import typer
from rich.table import Table

from jobs.cli.common import EnvOption, console, fail, parse_dates, settings_for
from jobs.runtime.config import Settings

index_app = typer.Typer(help="Versions of the search indices: list them, roll back.", no_args_is_help=True)


def _index_families(settings: Settings, alias: str, month: str | None):  # noqa: ANN202
    from jobs.stores.clients import elasticsearch_client
    from jobs.stores.search_indices import VersionedIndex

    if alias not in ("meters", "readings-daily"):
        fail(f"--alias {alias!r}: unknown alias (known: meters, readings-daily)", code=2)
    base = alias if alias == "meters" else f"readings-daily-{month}"
    if alias == "readings-daily" and not month:
        fail("--month YYYY-MM is needed for readings-daily (one index per month)", code=2)
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        fail(f"--month {month!r}: not a month YYYY-MM (an index name is built from it, never a pattern)", code=2)
    return VersionedIndex(elasticsearch_client(settings), alias, base, settings.search.replicas,
                          settings.search.keep_versions)


AliasOption = Annotated[str, typer.Option("--alias", help="meters or readings-daily.")]
MonthOption = Annotated[str | None, typer.Option("--month", help="YYYY-MM, for readings-daily.")]


@index_app.command("versions")
def index_versions_command(alias: AliasOption = "meters", month: MonthOption = None, env: EnvOption = None) -> None:
    """List the versions of an alias's indices, newest first, and which one is live."""
    family = _index_families(settings_for(env), alias, month)
    table = Table("version", "created (UTC)", "documents", "build", "live")
    for version in family.versions():
        table.add_row(version.name, version.created, f"{version.docs:,}", version.build_state,
                      "[green]live[/]" if version.live else "[yellow]candidate[/]" if version.candidate else "")
    console.print(table)


@index_app.command("rollback")
def index_rollback_command(
    alias: AliasOption = "meters",
    month: MonthOption = None,
    to: Annotated[str | None, typer.Option("--to", help="The version to make live (default: the previous).")] = None,
    env: EnvOption = None,
) -> None:
    """Move the alias back to an earlier complete version, in one call."""
    from jobs.stores.search_indices import IndexBuildError

    family = _index_families(settings_for(env), alias, month)
    try:
        live = family.rollback(to)
    except IndexBuildError as exc:
        fail(str(exc))
    console.print(f"{alias} now serves {live}")


def search_command(
    near: Annotated[str | None, typer.Option(help="LAT,LON of the centre of a radius search.")] = None,
    radius: Annotated[str, typer.Option(help="Radius around --near, e.g. 500m or 2km.")] = "2km",
    device_type: Annotated[str | None, typer.Option("--type", help="Meter class or sensor type.")] = None,
    feeder: Annotated[str | None, typer.Option(help="Feeder id.")] = None,
    kwh: Annotated[str | None, typer.Option(help="kWh imported, MIN..MAX (either end may be open).")] = None,
    date_: Annotated[str | None, typer.Option("--date", help="Search that day's readings (YYYY-MM-DD).")] = None,
    text: Annotated[str | None, typer.Option(help="Words of the address or description.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most hits to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    env: EnvOption = None,
) -> None:
    """Find meters and sensors by location, type, feeder, value range and text."""
    from jobs.stores.clients import elasticsearch_client
    from jobs.stores.search_query import (
        SearchInputError,
        SearchRequest,
        parse_near,
        parse_radius,
        parse_range,
        parse_type,
        search_query,
    )

    settings = settings_for(env)
    try:
        request = SearchRequest(
            near=parse_near(near) if near else None, radius=parse_radius(radius),
            device_type=parse_type(device_type) if device_type else None, feeder=feeder,
            kwh=parse_range(kwh) if kwh else None, day=parse_dates(date_, None)[0] if date_ else None, text=text,
            limit=limit)
    except SearchInputError as exc:
        fail(str(exc), code=2)
    alias, body = search_query(request)
    found = elasticsearch_client(settings).search(index=alias, **body)["hits"]["hits"]
    # Near a point, hits come nearest first and each one's last sort value is its distance in metres.
    hits = [{**hit["_source"], **({"distance_m": round(hit["sort"][-1])} if request.near else {})} for hit in found]
    if as_json:
        sys.stdout.write(json.dumps(hits) + "\n")
        return
    columns = ("meter_id", "date", "meter_class", "feeder_id", "kwh_import", "peak_kw") if request.day else (
        "device_id", "meter_class", "feeder_id", "region", "description")
    columns += ("distance_m",) if request.near else ()
    table = Table(*columns, title=f"{len(hits)} hit(s) in {alias}")
    for hit in hits:
        table.add_row(*(str(hit.get(column, "")) for column in columns))
    console.print(table)
