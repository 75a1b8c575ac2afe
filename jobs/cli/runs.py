"""`gridlake run extract|validate|aggregate|index|publish`, `backfill`, `runs` and `compact`: the Spark stages."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from jobs.cli.common import DateOption, EndOption, EnvOption, console, fail, parse_dates, settings_for
from jobs.pipeline.registry import DAILY, STAGE_RECORD

run_app = typer.Typer(help="Run one job.", no_args_is_help=True)
AllowEmptyOption = Annotated[bool, typer.Option(
    "--allow-empty", help="Let the extract replace a date's bronze rows with nothing when Cassandra no longer "
                          "holds the day.")]


def _or_fail(step):  # noqa: ANN001, ANN202 - a thunk and whatever it returns
    """Run a job step; turn the errors a user can act on into one line and exit 1."""
    from py4j.protocol import Py4JJavaError

    try:
        return step()
    except Py4JJavaError as exc:
        fail(str(exc.java_exception).splitlines()[0])
    except RuntimeError as exc:
        fail(str(exc))


def _print_record(record) -> None:  # noqa: ANN001 - a RunRecord or a job's line
    from jobs.stores.runs import RunRecord

    if not isinstance(record, RunRecord):
        console.print(str(record), highlight=False)
    elif record.table != STAGE_RECORD:
        console.print(f"{record.date} {record.stage} {record.table}: {record.rows_read:,} rows read, "
                      f"{record.rows_written:,} written, {record.files} files, {record.bytes:,} bytes "
                      f"in {record.seconds:.1f} s", highlight=False)


def _run_stage(stage: str, date_: str, end: str | None, env: str | None, allow_empty: bool = False) -> None:
    """Run one stage over a date range, date by date, a line per table; stop at the first failure."""
    from jobs.pipeline.runner import run_stage
    from jobs.runtime.spark import spark_session

    settings = settings_for(env)
    settings.lake.allow_empty_replace = settings.lake.allow_empty_replace or allow_empty
    days = parse_dates(date_, end, settings.backfill.max_days)
    spark = spark_session(settings, app_name=f"gridlake-{stage}")
    for day in days:
        for record in _or_fail(lambda d=day: run_stage(settings, stage, d, spark)):
            _print_record(record)


@run_app.command("extract")
def run_extract_command(date_: DateOption, end: EndOption = None, env: EnvOption = None,
                        allow_empty: AllowEmptyOption = False) -> None:
    """Extract meter and sensor readings of a local date (or range) from Cassandra into bronze."""
    _run_stage("extract", date_, end, env, allow_empty)


@run_app.command("validate")
def run_validate_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Validate, estimate and edit a date's meter readings (a range in date order): bronze -> silver."""
    _run_stage("validate", date_, end, env)


@run_app.command("aggregate")
def run_aggregate_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Aggregate a date's validated readings (a range in date order) into the gold tables."""
    _run_stage("aggregate", date_, end, env)


@run_app.command("index")
def run_index_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Build new versions of the `meters` and `readings-daily` indices and swap their aliases."""
    _run_stage("index", date_, end, env)


@run_app.command("publish")
def run_publish_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Publish a date's gold figures into Redis as a new version and flip the API to it."""
    _run_stage("publish", date_, end, env)


def compact_command(
    date_: DateOption,
    end: EndOption = None,
    run_vacuum: Annotated[bool, typer.Option("--vacuum", help="Then VACUUM Delta tables (retention from conf).")] = False,
    env: EnvOption = None,
) -> None:
    """Rewrite a date's small bronze files into right-sized ones; report files and bytes before and after."""
    from jobs.runtime.spark import spark_session
    from jobs.stages import compact as compact_partitions

    settings = settings_for(env)
    days = parse_dates(date_, end, settings.backfill.max_days)
    spark = spark_session(settings, app_name="gridlake-compact")
    for day in days:
        for report in _or_fail(lambda d=day: compact_partitions.main(settings, d, spark)):
            console.print(f"{report.date} {report.table}: {report.before.files} files / {report.before.bytes:,} bytes"
                          f" -> {report.after.files} files / {report.after.bytes:,} bytes ({report.rows:,} rows)",
                          highlight=False)
    if run_vacuum:
        for table in _or_fail(lambda: compact_partitions.vacuum(spark, settings)):
            console.print(f"vacuumed {table}")


def runs_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Print what the stages did for a date range (from `_runs`) and the quarantine per rule."""
    from jobs.pipeline.runner import stage_summary

    settings = settings_for(env)
    days = parse_dates(date_, end)
    summary = stage_summary(settings, days)
    table = Table("date", "stage", "status", "rows read", "rows written", "files", "seconds",
                  title="latest run of each stage (_runs)")
    for run in summary.stages:
        table.add_row(str(run["date"]), run["stage"], run["status"], f"{run['rows_read']:,}",
                      f"{run['rows_written']:,}", str(run["files"]), f"{run['seconds']:.1f}")
    console.print(table)
    if not summary.quarantine:
        console.print("quarantined readings (silver/quarantine): none")
        return
    quarantine = Table("rule", "rows", title="quarantined readings (silver/quarantine)")
    for rule, rows in summary.quarantine.items():
        quarantine.add_row(rule, f"{rows:,}")
    console.print(quarantine)


def backfill_command(
    start: Annotated[str, typer.Option("--start", help="First local date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last local date, YYYY-MM-DD.")],
    stages: Annotated[str, typer.Option(help="Comma-separated stages, run in pipeline order.")] = ",".join(DAILY),
    force: Annotated[bool, typer.Option("--force", help="Run dates that `_runs` says are complete too.")] = False,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Dates run at once (VEE and aggregates "
                                          "still wait for the dates before them).")] = 1,
    allow_empty: AllowEmptyOption = False,
    env: EnvOption = None,
) -> None:
    """Run the daily pipeline over a range without a scheduler, resumably.

    Runs that `_runs` records as complete (and whose inputs have not changed since, Cassandra
    included) are skipped unless --force, so an interrupted backfill continues where it stopped.
    """
    from rich.progress import Progress

    from jobs.pipeline.planning import plan
    from jobs.pipeline.runner import run_plan, stage_runs
    from jobs.runtime.spark import spark_session
    from jobs.stores.cassandra_tables import cassandra_written_at

    chosen = [stage.strip() for stage in stages.split(",") if stage.strip()]
    unknown = [stage for stage in chosen if stage not in DAILY]
    if unknown or not chosen:
        fail(f"--stages {stages!r}: unknown stage {unknown[0] if unknown else ''!r} "
             f"(known: {', '.join(DAILY)})", code=2)
    settings = settings_for(env)
    settings.lake.allow_empty_replace = settings.lake.allow_empty_replace or allow_empty
    if parallel > settings.backfill.max_parallel:
        fail(f"--parallel {parallel}: more than backfill.max_parallel = {settings.backfill.max_parallel} runs at "
             "once on one Spark session", code=2)
    days = parse_dates(start, end, settings.backfill.max_days)
    jobs = plan(chosen, days, stage_runs(settings, days), cassandra_written_at(settings), force=force)
    skipped = len(chosen) * len(days) - len(jobs)
    console.print(f"backfill {days[0]}..{days[-1]}: {len(jobs)} stage runs to do, {skipped} already complete"
                  + (" (--force to redo them)" if skipped else ""), highlight=False)
    if not jobs:
        return  # planned from `_runs` without Spark: nothing to do starts no session
    spark = spark_session(settings, app_name="gridlake-backfill")
    with Progress(console=console) as progress:
        bar = progress.add_task("backfill", total=len(jobs))

        def done(job, results) -> None:  # noqa: ANN001 - (stage, date), its records
            for record in results:
                _print_record(record)
            progress.update(bar, advance=1, description=f"{job[1]} {job[0]} done")

        _or_fail(lambda: run_plan(settings, spark, jobs, parallel, on_done=done))
