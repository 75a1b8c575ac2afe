"""Shared by every command module: the consoles, the common options, settings and dates from options, error exit."""

from __future__ import annotations

from datetime import date
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from jobs.runtime.config import ConfigError, Settings, load_settings

console = Console()
errors = Console(stderr=True)

EnvOption = Annotated[str | None, typer.Option("--env", help="Configuration environment (conf/<env>.yaml).")]
ClusterOption = Annotated[bool, typer.Option("--redis-cluster", help="Include the 3-master Redis Cluster.")]
ApiOption = Annotated[bool, typer.Option("--api", help="Include the serving API (`gridlake serve`), started last.")]
MemcachedOption = Annotated[bool, typer.Option("--memcached", help="Include memcached (the API's hot-key tier).")]
EdgeOption = Annotated[bool, typer.Option(
    "--edge", help="Include the nginx edge and the API instances of its live and candidate pools.")]
DateOption = Annotated[str, typer.Option("--date", help="Local date of the grid, YYYY-MM-DD (first of a range).")]
EndOption = Annotated[str | None, typer.Option("--end", help="Last local date of a range, YYYY-MM-DD.")]


def settings_for(env: str | None) -> Settings:
    """The settings of an environment; a bad configuration exits 2 naming what is wrong."""
    try:
        return load_settings(env)
    except ConfigError as exc:
        fail(str(exc), code=2)


def parse_dates(start: str, end: str | None, max_days: int | None = None) -> list[date]:
    """The local dates from --date (and --end); bad dates, or more than ``max_days`` of them
    (``backfill.max_days``, for the commands that run stages), exit 2."""
    from jobs.runtime.dates import date_range

    try:
        days = date_range(date.fromisoformat(start), date.fromisoformat(end) if end else None)
    except ValueError as exc:
        fail(f"--date/--end: {exc}", code=2)
    if max_days is not None and len(days) > max_days:
        fail(f"{start}..{end} is {len(days):,} days, more than backfill.max_days = {max_days}: split the range "
             "or raise the bound", code=2)
    return days


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one `error:` line on stderr and exit with `code`."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
