"""`gridlake schema apply`, `seed` and `load-real`: the Cassandra schema and the data in it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from jobs.cli.common import EnvOption, console, fail, parse_dates, settings_for

schema_app = typer.Typer(help="Create or migrate the Cassandra keyspace and search templates from schemas/.",
                         no_args_is_help=True)


class LateRowsChoice(str, Enum):
    """How `seed` writes the late-arriving rows of its ground truth."""

    hold = "hold"
    only = "only"
    include = "include"


@schema_app.command("apply")
def schema_apply_command(env: EnvOption = None) -> None:
    """Create the keyspace, tables and index templates, add missing columns; twice changes nothing."""
    from jobs.stores.cassandra_schema import SchemaConflict, apply_schema
    from jobs.stores.clients import cassandra_session, elasticsearch_client
    from jobs.stores.search_indices import apply_index_templates

    settings = settings_for(env)
    try:
        with cassandra_session(settings) as session:
            actions = apply_schema(session, settings)
    except SchemaConflict as exc:
        fail(str(exc))
    actions += apply_index_templates(elasticsearch_client(settings))
    for action in actions or ["schema up to date: nothing to do"]:
        console.print(action, highlight=False)


def seed_command(
    meters: Annotated[int, typer.Option(min=1, help="Meters in the synthetic grid.")],
    days: Annotated[int, typer.Option(min=1, help="Local days to generate.")],
    start: Annotated[str, typer.Option(help="First local day, YYYY-MM-DD.")],
    seed: Annotated[int, typer.Option(min=0, help="Generator seed: same seed, same rows.")] = 0,
    fault_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of meter-days with one injected fault.")
                          ] = 0.01,
    late_rows: Annotated[LateRowsChoice, typer.Option(help="hold: keep late rows back; only: write just them; "
                                                           "include: all at once.")] = LateRowsChoice.hold,
    env: EnvOption = None,
) -> None:
    """Seed Cassandra with a synthetic grid (catalogue, readings, sensors) and its fault ground truth."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from jobs.ingest import seed_grid
    from jobs.stores.cassandra_schema import apply_schema
    from jobs.stores.clients import cassandra_session

    settings = settings_for(env)
    first_day = parse_dates(start, None)[0]
    with cassandra_session(settings) as session:
        apply_schema(session, settings)
    estimate = meters * days * 86400 // settings.grid.meter_interval_s
    with Progress(TextColumn("seed"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed} rows/s"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("rows", total=estimate)
        summary = seed_grid.main(settings, meters, days, first_day, seed, fault_rate,
                                 on_progress=lambda n: progress.advance(task, n), late_rows=late_rows.value)
    console.print(f"{summary.meter_rows:,} meter rows, {summary.sensor_rows:,} sensor rows, "
                  f"{summary.held_back_rows:,} held back, {summary.labels:,} fault labels in {summary.seconds:.1f} s "
                  f"= {summary.rows_per_s:,.0f} rows/s; ground truth: {summary.ground_truth_path or 'unchanged'}",
                  highlight=False)


def load_real_command(
    dataset: Annotated[str, typer.Argument(help="sgsc, tetouan or steel (see jobs/ingest/datasets/README.md).")],
    path: Annotated[Path | None, typer.Option("--path", help="Another file with the dataset's columns "
                                                            "(gzip or plain CSV).")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="The file's clock: an IANA zone or an offset like +10:00 "
                                                        "(default: the dataset's).")] = None,
    env: EnvOption = None,
) -> None:
    """Load one real measured dataset into meter_readings, meters and load_rejects."""
    from rich.progress import Progress

    from jobs.ingest import load_real_data
    from jobs.ingest.sources.common import BadInputError

    settings = settings_for(env)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"loading {dataset}", total=None)
            summary = load_real_data.main(
                settings, dataset, path=path, tz=tz,
                on_progress=lambda written, total: progress.update(task, advance=written, total=total))
    except BadInputError as exc:
        fail(str(exc), code=2)
    rejects = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.rejects.items())) or "none"
    console.print(f"loaded {summary.rows_loaded:,} of {summary.rows_read:,} readings of {summary.meters} meters "
                  f"from {summary.file} in {summary.seconds:.1f} s ({summary.rows_per_s:,.0f} rows/s); "
                  f"rejects: {rejects}", highlight=False)
