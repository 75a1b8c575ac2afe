"""The `gridlake` command line: local services and the jobs, for ad hoc runs and backfills."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from jobs.config import ConfigError, Settings, load_settings
from jobs.stages import DAILY, STAGE_RECORD

app = typer.Typer(help="gridlake: batch analytics and lakehouse for smart electricity grids.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
services_app = typer.Typer(help="Start, stop and check the local Cassandra, Elasticsearch and Redis.",
                           no_args_is_help=True)
run_app = typer.Typer(help="Run one job.", no_args_is_help=True)
schema_app = typer.Typer(help="Create or migrate the Cassandra keyspace and search templates from schemas/.",
                         no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(run_app, name="run")
app.add_typer(schema_app, name="schema")
cache_app = typer.Typer(help="Read the serving cache as the API does.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
index_app = typer.Typer(help="Versions of the search indices: list them, roll back.", no_args_is_help=True)
app.add_typer(index_app, name="index")
writeback_app = typer.Typer(help="Drain the write-behind stream of durable cache copies into Cassandra.",
                            no_args_is_help=True)
app.add_typer(writeback_app, name="writeback")

airflow_app = typer.Typer(help="Airflow's environment for gridlake's DAGs.", no_args_is_help=True)
app.add_typer(airflow_app, name="airflow")

console = Console()
errors = Console(stderr=True)

class LateRowsChoice(str, Enum):
    """How `seed` writes the late-arriving rows of its ground truth."""

    hold = "hold"
    only = "only"
    include = "include"


EnvOption = Annotated[str | None, typer.Option("--env", help="Configuration environment (conf/<env>.yaml).")]
ClusterOption = Annotated[bool, typer.Option("--redis-cluster", help="Include the 3-master Redis Cluster.")]
DateOption = Annotated[str, typer.Option("--date", help="Local date of the grid, YYYY-MM-DD (first of a range).")]
EndOption = Annotated[str | None, typer.Option("--end", help="Last local date of a range, YYYY-MM-DD.")]


def _settings(env: str | None) -> Settings:
    try:
        return load_settings(env)
    except ConfigError as exc:
        _fail(str(exc), code=2)


def _dates(start: str, end: str | None) -> list[date]:
    from jobs.dates import date_range

    try:
        return date_range(date.fromisoformat(start), date.fromisoformat(end) if end else None)
    except ValueError as exc:
        _fail(f"--date/--end: {exc}", code=2)


def _fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@services_app.command("up")
def services_up_command(
    env: EnvOption = None,
    redis_cluster: ClusterOption = False,
    es_nodes: Annotated[int | None, typer.Option(help="Elasticsearch nodes in the one JVM.")] = None,
) -> None:
    """Start the services (idempotent) and wait until each answers."""
    from jobs.maven import MavenError
    from jobs.services import ServiceError, local_services, services_status, services_up

    settings = _settings(env)
    if es_nodes is not None:
        settings.services.elasticsearch.nodes = es_nodes
    services = local_services(settings, redis_cluster)
    try:
        with console.status("starting " + ", ".join(s.name for s in services) + " …"):
            ready_after = services_up(services, settings.services.start_timeout_s)
    except (ServiceError, MavenError) as exc:
        _fail(str(exc))
    for status in services_status(services):
        console.print(f"[green]up[/] {status.name:<14} {status.address:<22} {status.version or '?':<8} "
                      f"ready after {ready_after[status.name]}s")


@services_app.command("down")
def services_down_command(env: EnvOption = None) -> None:
    """Stop the services gridlake started (by pid file); other processes are left alone."""
    from jobs.services import local_services, services_down

    stopped = services_down(local_services(_settings(env), redis_cluster=True))
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@services_app.command("status")
def services_status_command(
    env: EnvOption = None,
    redis_cluster: ClusterOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Print each service's health, version and address; exit 0 only if all are healthy."""
    from jobs.services import local_services, services_status

    statuses = services_status(local_services(_settings(env), redis_cluster))
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


@schema_app.command("apply")
def schema_apply_command(env: EnvOption = None) -> None:
    """Create the keyspace, tables and index templates, add missing columns; twice changes nothing."""
    from jobs.cassandra_schema import SchemaConflict, apply_schema
    from jobs.clients import cassandra_session, elasticsearch_client
    from jobs.search_templates import apply_index_templates

    settings = _settings(env)
    try:
        with cassandra_session(settings) as session:
            actions = apply_schema(session, settings)
    except SchemaConflict as exc:
        _fail(str(exc))
    actions += apply_index_templates(elasticsearch_client(settings))
    for action in actions or ["schema up to date: nothing to do"]:
        console.print(action, highlight=False)


@app.command("seed")
def seed_command(
    meters: Annotated[int, typer.Option(min=1, help="Meters in the synthetic grid.")],
    days: Annotated[int, typer.Option(min=1, help="Local days to generate.")],
    start: Annotated[str, typer.Option(help="First local day, YYYY-MM-DD.")],
    seed: Annotated[int, typer.Option(help="Generator seed: same seed, same rows.")] = 0,
    fault_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of meter-days with one injected fault.")
                          ] = 0.01,
    late_rows: Annotated[LateRowsChoice, typer.Option(help="hold: keep late rows back; only: write just them; "
                                                           "include: all at once.")] = LateRowsChoice.hold,
    env: EnvOption = None,
) -> None:
    """Seed Cassandra with a synthetic grid (catalogue, readings, sensors) and its fault ground truth."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from jobs import seed_grid
    from jobs.cassandra_schema import apply_schema
    from jobs.clients import cassandra_session

    settings = _settings(env)
    first_day = _dates(start, None)[0]
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


@app.command("load-real")
def load_real_command(
    dataset: Annotated[str, typer.Argument(help="sgsc, tetouan or steel (see ../shared/data/README.md).")],
    path: Annotated[Path | None, typer.Option("--path", help="Another file with the dataset's columns "
                                                            "(gzip or plain CSV).")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="The file's clock: an IANA zone or an offset like +10:00 "
                                                        "(default: the dataset's).")] = None,
    env: EnvOption = None,
) -> None:
    """Load one real measured dataset into meter_readings, meters and load_rejects."""
    from rich.progress import Progress

    from jobs import load_real_data
    from jobs.sources.common import BadInputError

    settings = _settings(env)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"loading {dataset}", total=None)
            summary = load_real_data.main(
                settings, dataset, path=path, tz=tz,
                on_progress=lambda written, total: progress.update(task, advance=written, total=total))
    except BadInputError as exc:
        _fail(str(exc), code=2)
    rejects = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.rejects.items())) or "none"
    console.print(f"loaded {summary.rows_loaded:,} of {summary.rows_read:,} readings of {summary.meters} meters "
                  f"from {summary.file} in {summary.seconds:.1f} s ({summary.rows_per_s:,.0f} rows/s); "
                  f"rejects: {rejects}", highlight=False)


@run_app.command("extract")
def run_extract_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Extract meter and sensor readings of a local date (or range) from Cassandra into bronze."""
    _run_stage("extract", date_, end, env)


@app.command("compact")
def compact_command(
    date_: DateOption,
    end: EndOption = None,
    run_vacuum: Annotated[bool, typer.Option("--vacuum", help="Then VACUUM Delta tables (retention from conf).")] = False,
    env: EnvOption = None,
) -> None:
    """Rewrite a date's small bronze files into right-sized ones; report files and bytes before and after."""
    from jobs import compact_partitions
    from jobs.spark import spark_session

    settings = _settings(env)
    days = _dates(date_, end)
    spark = spark_session(settings, app_name="gridlake-compact")
    for day in days:
        for report in _or_fail(lambda d=day: compact_partitions.main(settings, d, spark)):
            console.print(f"{report.date} {report.table}: {report.before.files} files / {report.before.bytes:,} bytes"
                          f" -> {report.after.files} files / {report.after.bytes:,} bytes ({report.rows:,} rows)",
                          highlight=False)
    if run_vacuum:
        for table in _or_fail(lambda: compact_partitions.vacuum(spark, settings)):
            console.print(f"vacuumed {table}")


def _or_fail(step):  # noqa: ANN001, ANN202 - a thunk and whatever it returns
    """Run a job step; turn the errors a user can act on into one line and exit 1."""
    from py4j.protocol import Py4JJavaError

    try:
        return step()
    except Py4JJavaError as exc:
        _fail(str(exc.java_exception).splitlines()[0])
    except RuntimeError as exc:
        _fail(str(exc))


@app.command("runs")
def runs_command(date_: DateOption, end: EndOption = None, env: EnvOption = None) -> None:
    """Print what the stages did for a date range (from `_runs`) and the quarantine per rule."""
    from jobs.pipeline import stage_summary

    settings = _settings(env)
    days = _dates(date_, end)
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


@airflow_app.command("env")
def airflow_env_command(env: EnvOption = None) -> None:
    """Print `export` lines for Airflow: the project's DAG folder and the spark_default,
    cassandra_default, elasticsearch_default and redis_default connections from conf
    (`eval "$(gridlake airflow env)"`)."""
    import shlex

    from jobs.orchestration import airflow_environment

    for name, value in airflow_environment(_settings(env)).items():
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")


@airflow_app.command("test-day")
def airflow_test_day_command(date_: DateOption, end: EndOption = None,
                             dag_id: Annotated[str, typer.Option("--dag")] = "grid_daily",
                             env: EnvOption = None) -> None:
    """Run a DAG through Airflow (`dag.test()`, no scheduler) for each local date of a range,
    with the connections from conf; each run's log goes under the state dir's logs."""
    from jobs.orchestration import run_day_through_airflow

    settings = _settings(env)
    for day in _dates(date_, end):
        log_path = settings.state_path / "logs" / "airflow" / f"{dag_id}-{day}.log"
        with console.status(f"{dag_id} {day}: running through Airflow (log: {log_path}) …"):
            state, tasks = run_day_through_airflow(settings, day, log_path, dag_id)
        console.print(f"{dag_id} {day}: [{'green' if state == 'success' else 'red'}]{state}[/]  "
                      + "  ".join(f"{task}={task_state}" for task, task_state in tasks.items()), highlight=False)
        if state != "success":
            _fail(f"{dag_id} {day}: run {state}; see {log_path}")


@app.command("spark-jars")
def spark_jars_command(env: EnvOption = None) -> None:
    """Print the comma-separated jars for `spark-submit --jars` (Cassandra connector, Delta)."""
    from jobs.spark import package_jars

    sys.stdout.write(",".join(package_jars(_settings(env))) + "\n")


@app.command("spark-driver-options")
def spark_driver_options_command(env: EnvOption = None) -> None:
    """Print the JVM options for `spark-submit --driver-java-options`: the log configuration,
    collector and class archive every Spark driver gridlake starts itself gets."""
    from jobs.spark import driver_java_options

    sys.stdout.write(driver_java_options(_settings(env)) + "\n")


@app.command("spark-archive")
def spark_archive_command(env: EnvOption = None) -> None:
    """Make the Spark driver's class-data-sharing archive (once per jars and Java; make setup
    runs it): every later driver JVM starts a few seconds sooner."""
    from jobs.driver_classes import make_archive

    started = time.perf_counter()
    archive = make_archive(_settings(env))
    if archive is None:
        console.print("no archive: the Java runtime does not say its version (JAVA_HOME/release)")
        return
    console.print(f"driver class archive: {archive} ({archive.stat().st_size / 2**20:,.0f} MiB, "
                  f"{time.perf_counter() - started:.1f} s)", soft_wrap=True)


@cache_app.command("get")
def cache_get_command(
    meter: Annotated[str, typer.Option("--meter", help="Meter id.")],
    date_: DateOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    env: EnvOption = None,
) -> None:
    """Print what the API would serve for a meter's day (Redis, or Cassandra on a miss)."""
    from jobs.cache_durable import DurableCopies
    from jobs.cache_read import CacheReader
    from jobs.clients import RedisUnavailable, cache_client, cassandra_session

    settings = _settings(env)
    day = _dates(date_, None)[0]
    try:
        client = cache_client(settings)
    except RedisUnavailable as exc:
        _fail(str(exc))
    with cassandra_session(settings) as session:
        reader = CacheReader(client, DurableCopies(session, settings.cassandra.keyspace),
                             ttl_s=settings.cache.ttl_days * 86400, prefix=settings.cache.prefix)
        figures = reader.get_meter_daily(meter, day.isoformat())
    if figures is None:
        _fail(f"no published figures for meter {meter} on {day}")
    if as_json:
        sys.stdout.write(json.dumps({"meter_id": meter, "date": day.isoformat(), **figures}) + "\n")
        return
    table = Table("field", "value", title=f"{meter} {day}")
    for field, value in sorted(figures.items()):
        table.add_row(field, str(value))
    console.print(table)


def _print_record(record) -> None:  # noqa: ANN001 - a RunRecord or a job's line
    from jobs.run_log import RunRecord

    if not isinstance(record, RunRecord):
        console.print(str(record), highlight=False)
    elif record.table != STAGE_RECORD:
        console.print(f"{record.date} {record.stage} {record.table}: {record.rows_read:,} rows read, "
                      f"{record.rows_written:,} written, {record.files} files, {record.bytes:,} bytes "
                      f"in {record.seconds:.1f} s", highlight=False)


def _run_stage(stage: str, date_: str, end: str | None, env: str | None) -> None:
    """Run one stage over a date range, date by date, a line per table; stop at the first failure."""
    from jobs.pipeline import run_stage
    from jobs.spark import spark_session

    settings = _settings(env)
    days = _dates(date_, end)
    spark = spark_session(settings, app_name=f"gridlake-{stage}")
    for day in days:
        for record in _or_fail(lambda d=day: run_stage(settings, stage, d, spark)):
            _print_record(record)


@app.command("backfill")
def backfill_command(
    start: Annotated[str, typer.Option("--start", help="First local date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last local date, YYYY-MM-DD.")],
    stages: Annotated[str, typer.Option(help="Comma-separated stages, run in pipeline order.")] = ",".join(DAILY),
    force: Annotated[bool, typer.Option("--force", help="Run dates that `_runs` says are complete too.")] = False,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Dates run at once (VEE and aggregates "
                                          "still wait for the dates before them).")] = 1,
    env: EnvOption = None,
) -> None:
    """Run the daily pipeline over a range without a scheduler, resumably.

    Runs that `_runs` records as complete (and whose inputs have not changed since, Cassandra
    included) are skipped unless --force, so an interrupted backfill continues where it stopped.
    """
    from rich.progress import Progress

    from jobs.pipeline import cassandra_written_at, plan, run_plan, stage_runs
    from jobs.spark import spark_session

    chosen = [stage.strip() for stage in stages.split(",") if stage.strip()]
    unknown = [stage for stage in chosen if stage not in DAILY]
    if unknown or not chosen:
        _fail(f"--stages {stages!r}: unknown stage {unknown[0] if unknown else ''!r} "
              f"(known: {', '.join(DAILY)})", code=2)
    settings = _settings(env)
    days = _dates(start, end)
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


def _index_families(settings: Settings, alias: str, month: str | None):  # noqa: ANN202
    from jobs.clients import elasticsearch_client
    from jobs.search_index import VersionedIndex

    if alias not in ("meters", "readings-daily"):
        _fail(f"--alias {alias!r}: unknown alias (known: meters, readings-daily)", code=2)
    base = alias if alias == "meters" else f"readings-daily-{month}"
    if alias == "readings-daily" and not month:
        _fail("--month YYYY-MM is needed for readings-daily (one index per month)", code=2)
    return VersionedIndex(elasticsearch_client(settings), alias, base, settings.search.replicas,
                          settings.search.keep_versions)


AliasOption = Annotated[str, typer.Option("--alias", help="meters or readings-daily.")]
MonthOption = Annotated[str | None, typer.Option("--month", help="YYYY-MM, for readings-daily.")]


@index_app.command("versions")
def index_versions_command(alias: AliasOption = "meters", month: MonthOption = None, env: EnvOption = None) -> None:
    """List the versions of an alias's indices, newest first, and which one is live."""
    family = _index_families(_settings(env), alias, month)
    table = Table("version", "created (UTC)", "documents", "build", "live")
    for version in family.versions():
        table.add_row(version.name, version.created, f"{version.docs:,}", version.build_state,
                      "[green]live[/]" if version.live else "")
    console.print(table)


@index_app.command("rollback")
def index_rollback_command(
    alias: AliasOption = "meters",
    month: MonthOption = None,
    to: Annotated[str | None, typer.Option("--to", help="The version to make live (default: the previous).")] = None,
    env: EnvOption = None,
) -> None:
    """Move the alias back to an earlier complete version, in one call."""
    from jobs.search_index import IndexBuildError

    family = _index_families(_settings(env), alias, month)
    try:
        live = family.rollback(to)
    except IndexBuildError as exc:
        _fail(str(exc))
    console.print(f"{alias} now serves {live}")


@app.command("search")
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
    from jobs.clients import elasticsearch_client
    from jobs.search_query import (SearchInputError, SearchRequest, parse_near, parse_radius, parse_range,
                                   parse_type, search_query)

    settings = _settings(env)
    try:
        request = SearchRequest(
            near=parse_near(near) if near else None, radius=parse_radius(radius),
            device_type=parse_type(device_type) if device_type else None, feeder=feeder,
            kwh=parse_range(kwh) if kwh else None, day=_dates(date_, None)[0] if date_ else None, text=text,
            limit=limit)
    except SearchInputError as exc:
        _fail(str(exc), code=2)
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


@writeback_app.command("run")
def writeback_run_command(
    name: Annotated[str, typer.Option(help="This worker's consumer name (unique per worker).")] = "worker-1",
    batch: Annotated[int, typer.Option(min=1, help="Stream entries (published batches of copies) read per call.")] = 10,
    once: Annotated[bool, typer.Option("--once", help="Stop when the stream is drained.")] = False,
    env: EnvOption = None,
) -> None:
    """Write queued durable copies to Cassandra; reclaim a crashed worker's entries; dead-letter failures."""
    from jobs.cache_durable import DurableCopies
    from jobs.cache_writeback import WriteBehindWorker
    from jobs.clients import RedisUnavailable, cache_client, cassandra_session

    settings = _settings(env)
    conf = settings.cache
    try:
        client = cache_client(settings)
    except RedisUnavailable as exc:
        _fail(str(exc))
    with cassandra_session(settings) as session:
        worker = WriteBehindWorker(client, DurableCopies(session, settings.cassandra.keyspace), name,
                                   prefix=conf.prefix, batch=batch, max_deliveries=conf.writeback_max_deliveries,
                                   claim_idle_ms=conf.writeback_claim_idle_ms)
        while True:
            report = worker.drain()
            if report.written or report.dead or report.reclaimed:
                console.print(f"{name}: wrote {report.written:,} copies, reclaimed {report.reclaimed:,} batches, "
                              f"dead-lettered {report.dead:,} batches", highlight=False)
            if once:
                return


@run_app.command("smoke")
def run_smoke_command(env: EnvOption = None) -> None:
    """Touch every part of the stack once: Cassandra via Spark, Delta, Parquet, Elasticsearch, Redis."""
    from jobs import check_stack

    settings = _settings(env)
    for line in check_stack.main(settings):
        console.print(f"[green]✓[/] {line}", highlight=False)


if __name__ == "__main__":
    app()
