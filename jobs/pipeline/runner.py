"""Running the daily pipeline: one stage for one date, or a plan of (stage, date) runs.

One module for what `gridlake backfill`, jobs/pipeline/submit.py (Airflow's tasks) and
notebooks share:

- ``STAGE_JOBS`` maps each stage to its module in jobs/stages, whose
  ``main(settings, run_date, spark)`` runs it;
- ``run_stage`` runs one stage for one date, holding that (stage, date)'s lease
  (jobs/stores/stage_leases.py) so no other run of it goes at the same time, and appends a
  stage record to `_runs` (table ``STAGE_RECORD``) once all of the stage's tables are written,
  so "done" means the whole stage finished, not one of its tables;
- ``run_plan`` runs a plan (jobs/pipeline/planning.py), optionally several dates at once,
  never a date's VEE or aggregates before the same stage of the dates before it (like-day
  estimates and anomaly baselines read them). The graph executor is the standard library's
  ``graphlib.TopologicalSorter``; a thread pool runs the ready runs on the one SparkSession.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, timedelta
from graphlib import TopologicalSorter
from types import ModuleType

from pyspark.sql import SparkSession

from jobs.pipeline.planning import Job, Runs, StageRun, dependencies, is_done
from jobs.pipeline.registry import STAGE_RECORD, STAGES, UPSTREAM
from jobs.runtime.config import Settings
from jobs.stages import aggregate, compact, extract, housekeeping, index, publish, release, report, validate
from jobs.stores.cassandra_tables import cassandra_written_at
from jobs.stores.lake import quarantine_per_rule
from jobs.stores.runs import RunRecord, one_commit, read_runs, recorded_run
from jobs.stores.stage_leases import stage_lease

log = logging.getLogger(__name__)

#: stage -> the module whose ``main(settings, run_date, spark)`` runs it
STAGE_JOBS: dict[str, ModuleType] = {
    "extract": extract, "compact": compact, "validate": validate, "aggregate": aggregate, "index": index,
    "publish": publish, "release": release, "report": report, "housekeeping": housekeeping,
}


def run_stage(settings: Settings, stage: str, day: date, spark: SparkSession) -> list[RunRecord | str]:
    """Run ``stage`` for ``day``; then append its stage record (totals of its tables) to `_runs`,
    with its tables' records, in one commit.

    The stage record is appended as running when the run starts, and again with how it ended:
    ok, failed with the error, or interrupted (a killed process leaves it running). A run
    refused because another holds the date's lease (LeaseHeld) records nothing: the date is
    the other run's.
    """
    job = STAGE_JOBS[stage]
    with stage_lease(settings, stage, day), one_commit(settings.lake_root), \
            recorded_run(settings.lake_root, stage, STAGE_RECORD, day, announce=True) as total:
        results = list(job.main(settings, day, spark))
        for record in results:
            if isinstance(record, RunRecord):
                total.rows_read += record.rows_read
                total.rows_written += record.rows_written
                total.bytes += record.bytes
                total.files += record.files
    return results


def latest_stage_records(settings: Settings, days: Iterable[date] | None = None) -> dict[Job, dict]:
    """The latest stage record (a `_runs` row) per (stage, date), for ``days`` or all dates: of
    the latest run, how it ended, or ``running`` when nothing else was recorded (it goes on, or
    its process was killed)."""
    wanted = set(days) if days is not None else None
    latest: dict[Job, dict] = {}

    def recency(row: dict) -> tuple:
        return row["started_at"], row["status"] != "running"

    for row in read_runs(settings.lake_root):
        key = (row["stage"], row["date"])
        if row["table"] == STAGE_RECORD and (wanted is None or row["date"] in wanted) and (
                key not in latest or recency(row) > recency(latest[key])):
            latest[key] = row
    return latest


def stage_runs(settings: Settings, days: Iterable[date] | None = None) -> Runs:
    """The latest stage record per (stage, date) in `_runs` (none before the first run)."""
    return {key: StageRun(row["stage"], row["date"], row["started_at"],
                          row["started_at"] + timedelta(seconds=row["seconds"]), row["status"])
            for key, row in latest_stage_records(settings, days).items()}


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


