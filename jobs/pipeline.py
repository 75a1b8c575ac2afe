"""The daily pipeline: its stages, which (stage, date) runs are done, and running a range.

One module for what `gridlake backfill`, `jobs/submit.py` (Airflow's tasks) and notebooks
share:

- ``run_stage`` runs one stage for one date and appends a stage record to `_runs` (table
  ``STAGE_RECORD``) once all of the stage's tables are written, so "done" means the whole
  stage finished, not one of its tables;
- ``plan`` decides from `_runs` (and, for the extract, from when Cassandra last received
  data for the day) which runs a range still needs: a run is done when its stage record is
  ok, started after its upstream stages finished, and (extract) after the day's last write
  into Cassandra; everything downstream of a run that is not done runs again;
- ``run_plan`` runs a plan, optionally several dates at once, never a date's VEE or
  aggregates before the same stage of the dates before it (like-day estimates and anomaly
  baselines read them).

The graph executor is ``graphlib.TopologicalSorter`` from the standard library: it hands
out the runs whose prerequisites are done; a thread pool runs them on the one SparkSession.
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from graphlib import TopologicalSorter

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.config import Settings
from jobs.lake import LakeTableRef
from jobs.run_log import RunRecord, one_commit, read_runs, recorded_run
from jobs.stages import DAILY, READS_EARLIER_DATES, STAGE_RECORD, STAGES, UPSTREAM
from schemas.lake import PARTITION_COLUMN, SILVER_QUARANTINE

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class StageRun:
    """The latest stage record of one (stage, date) in `_runs`."""

    stage: str
    date: date
    started_at: datetime
    finished_at: datetime
    status: str


Runs = dict[tuple[str, date], StageRun]
Job = tuple[str, date]


def run_stage(settings: Settings, stage: str, day: date, spark: SparkSession) -> list[RunRecord | str]:
    """Run ``stage`` for ``day``; then append its stage record (totals of its tables) to `_runs`,
    with its tables' records, in one commit.

    The records are written whatever happens: ok, failed with the error, or interrupted.
    """
    job = importlib.import_module(STAGES[stage])
    with one_commit(settings.lake_root), recorded_run(settings.lake_root, stage, STAGE_RECORD, day) as total:
        results = list(job.main(settings, day, spark))
        for record in results:
            if isinstance(record, RunRecord):
                total.rows_read += record.rows_read
                total.rows_written += record.rows_written
                total.bytes += record.bytes
                total.files += record.files
    return results


def latest_stage_records(settings: Settings, days: Iterable[date] | None = None) -> dict[Job, dict]:
    """The latest stage record (a `_runs` row) per (stage, date), for ``days`` or all dates."""
    wanted = set(days) if days is not None else None
    latest: dict[Job, dict] = {}
    for row in read_runs(settings.lake_root):
        key = (row["stage"], row["date"])
        if row["table"] == STAGE_RECORD and (wanted is None or row["date"] in wanted) and (
                key not in latest or row["started_at"] > latest[key]["started_at"]):
            latest[key] = row
    return latest


def stage_runs(settings: Settings, days: Iterable[date] | None = None) -> Runs:
    """The latest stage record per (stage, date) in `_runs` (none before the first run)."""
    return {key: StageRun(row["stage"], row["date"], row["started_at"],
                          row["started_at"] + timedelta(seconds=row["seconds"]), row["status"])
            for key, row in latest_stage_records(settings, days).items()}


def is_done(stage: str, day: date, runs: Runs, cassandra_written_at: datetime | None = None) -> bool:
    """True when ``stage`` last ran ok for ``day`` after its inputs last changed."""
    run = runs.get((stage, day))
    if run is None or run.status != "ok":
        return False
    for upstream in UPSTREAM[stage]:
        before = runs.get((upstream, day))
        if before is not None and before.finished_at > run.started_at:
            return False
    return not (stage == "extract" and cassandra_written_at is not None and cassandra_written_at > run.started_at)


def plan(stages: Sequence[str], days: Sequence[date], runs: Runs,
         cassandra_written_at: Callable[[date], datetime | None] = lambda day: None,
         force: bool = False) -> list[Job]:
    """The (stage, date) runs a range needs, in pipeline order per date and dates in order.

    A run is needed when it is not done, when a stage upstream of it runs for the same date,
    or, for stages that read earlier dates, when the same stage runs for an earlier date of
    the range. ``force`` runs everything.
    """
    ordered = [stage for stage in DAILY if stage in stages]
    needed: list[Job] = []
    earlier_runs: set[str] = set()
    for day in sorted(days):
        running: set[str] = set()
        written_at = cassandra_written_at(day) if "extract" in ordered and not force else None
        for stage in ordered:
            if (force or not is_done(stage, day, runs, written_at) or running.intersection(UPSTREAM[stage])
                    or (stage in READS_EARLIER_DATES and stage in earlier_runs)):
                running.add(stage)
                needed.append((stage, day))
        earlier_runs |= running
    return needed


def dependencies(jobs: Sequence[Job]) -> dict[Job, set[Job]]:
    """Each run's prerequisites among ``jobs``: its upstream stages on the same date; for
    stages that read earlier dates, the same stage on the latest earlier date of the plan;
    for the others, the same stage on the plan's first date. A Delta table is created by its
    first write, and two first writes into an empty directory conflict
    (ProtocolChangedException), so each stage's first date runs before its others."""
    planned = set(jobs)
    graph: dict[Job, set[Job]] = {}
    for stage, day in jobs:
        needs = {(upstream, day) for upstream in UPSTREAM[stage] if (upstream, day) in planned}
        earlier = [d for s, d in jobs if s == stage and d < day]
        if earlier:
            needs.add((stage, max(earlier) if stage in READS_EARLIER_DATES else min(earlier)))
        graph[(stage, day)] = needs
    return graph


def run_plan(settings: Settings, spark: SparkSession, jobs: Sequence[Job], parallel: int = 1,
             on_done: Callable[[Job, list[RunRecord | str]], None] | None = None) -> None:
    """Run ``jobs`` with at most ``parallel`` at a time, each once its prerequisites are done.

    ``on_done`` is called in the calling thread after each run (progress bars, logs). The
    first failure stops new runs from starting; runs already going finish, then it raises.
    """
    graph = TopologicalSorter(dependencies(jobs))
    graph.prepare()
    going: dict[Future, Job] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="gridlake-backfill") as pool:
        try:
            while graph.is_active():
                for job in graph.get_ready():
                    going[pool.submit(run_stage, settings, job[0], job[1], spark)] = job
                finished, _ = wait(list(going), return_when=FIRST_COMPLETED)
                for future in finished:
                    job = going.pop(future)
                    results = future.result()
                    graph.done(job)
                    if on_done is not None:
                        on_done(job, results)
        except BaseException:
            for future in going:
                future.cancel()
            raise


def cassandra_written_at(settings: Settings) -> Callable[[date], datetime | None]:
    """When Cassandra last received readings for a local day (any meter or sensor), from the
    write times of the day's ``*_days`` index rows: every write of a device-day rewrites its
    row, late rows included."""
    from jobs.clients import cassandra_session
    from schemas.cassandra import DAY_BUCKETS, METER_DAYS, SENSOR_DAYS

    buckets = ", ".join(str(bucket) for bucket in range(DAY_BUCKETS))

    def written_at(day: date) -> datetime | None:
        latest = None
        with cassandra_session(settings) as session:
            for table in (METER_DAYS, SENSOR_DAYS):
                rows = session.execute(
                    f"SELECT writetime(received_at) AS written FROM {settings.cassandra.keyspace}.{table.name} "
                    f"WHERE day = %s AND bucket IN ({buckets})", (day,))
                for row in rows:
                    if row.written is not None and (latest is None or row.written > latest):
                        latest = row.written
        return datetime.fromtimestamp(latest / 1e6, tz=timezone.utc) if latest is not None else None

    return written_at


def late_dates(settings: Settings, stage: str, run_date: date, days_back: int) -> list[date]:
    """The dates of the ``days_back`` days before ``run_date`` that ``stage`` must process
    again because their inputs changed since it last ran: for the extract, Cassandra received
    readings for the day after its last extract (late data); for the stages after it, an
    upstream stage re-ran. Days never processed upstream are left to a backfill."""
    earlier = [run_date - timedelta(days=n) for n in range(days_back, 0, -1)]
    if not earlier:
        return []
    runs = stage_runs(settings, earlier)
    written_at = cassandra_written_at(settings) if stage == "extract" else (lambda day: None)
    stale = []
    for day in earlier:
        if stage == "extract":
            last_write = written_at(day)
            if last_write is not None and not is_done(stage, day, runs, last_write):
                stale.append(day)
        elif all(runs.get((up, day)) and runs[(up, day)].status == "ok" for up in UPSTREAM[stage]) \
                and not is_done(stage, day, runs):
            stale.append(day)
    return stale


@dataclass(frozen=True)
class StageSummary:
    """What `gridlake runs` prints: each stage's latest record per date, quarantine per rule."""

    stages: list[dict]  # latest stage records (rows of `_runs`), by date then pipeline order
    quarantine: dict[str, int]


def stage_summary(settings: Settings, days: Sequence[date]) -> StageSummary:
    """The latest stage record of each (stage, date) of ``days`` and the quarantined rows per rule."""
    order = {stage: n for n, stage in enumerate(STAGES)}
    stages = sorted(latest_stage_records(settings, days).values(),
                    key=lambda row: (row["date"], order.get(row["stage"], len(order))))
    return StageSummary(stages, quarantine_per_rule(settings, days))


def quarantine_per_rule(settings: Settings, days: Sequence[date]) -> dict[str, int]:
    """Quarantined rows per rule over ``days``, by rule. A Delta lake is read with delta-rs, as
    `_runs` is, so `gridlake runs` needs no Spark session (16 s in the demo); Parquet and ORC
    partitions are read through Spark."""
    location = f"{settings.lake_root.rstrip('/')}/{SILVER_QUARANTINE.path}"
    if settings.lake.format == "delta":
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(location):
            return {}
        rules = DeltaTable(location).to_pyarrow_table(
            columns=["rule_id"], filters=[(PARTITION_COLUMN, "in", list(days))])
        return dict(sorted(Counter(rules.column("rule_id").to_pylist()).items()))
    from jobs.spark import spark_session

    spark = spark_session(settings, app_name="gridlake-runs")
    quarantine = LakeTableRef(spark, settings.lake_root, SILVER_QUARANTINE.path, settings.lake.format)
    if not quarantine.exists():
        return {}
    rows = (quarantine.read(SILVER_QUARANTINE.spark_schema()).where(F.col(PARTITION_COLUMN).isin(list(days)))
            .groupBy("rule_id").count().orderBy("rule_id").collect())
    return {row.rule_id: row["count"] for row in rows}
