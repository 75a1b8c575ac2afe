"""`gridlake backfill` in-process on a seeded grid: interrupted, resumed, each date run once;
late rows in Cassandra make exactly their dates due again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from typer.testing import CliRunner

from jobs.ingest import seed_grid
from jobs.cli import app
from jobs.runtime.config import Settings
from jobs.runtime.dates import date_range
from jobs.pipeline.runner import late_dates, run_plan, stage_runs
from jobs.stores.cassandra_tables import cassandra_written_at
from jobs.pipeline.planning import is_done, plan
from jobs.stores.runs import RUNS_PATH
from jobs.pipeline.registry import DAILY, STAGE_RECORD
from schemas import ground_truth as gt

KEYSPACE = "grid_backfill_test"
START = date(2024, 10, 26)  # the range holds the autumn DST change (a 25-hour day)
DAYS = date_range(START, START + timedelta(days=2))
METERS = 12
SEED = 41
FAULT_RATE = 0.08


@pytest.fixture(scope="module")
def seeded(fresh_keyspace: Callable[[str], Settings], tmp_path_factory: pytest.TempPathFactory) -> tuple[
        Settings, str]:
    """A seeded grid (late rows held back) and the path of its ground truth."""
    settings = fresh_keyspace(KEYSPACE)
    settings.lake.root = str(tmp_path_factory.mktemp("backfill-lake"))
    settings.cache.prefix = "gridlake-backfill-test"
    summary = seed_grid.main(settings, METERS, len(DAYS), START, seed=SEED, fault_rate=FAULT_RATE, late_rows="hold")
    return settings, summary.ground_truth_path


def ok_stage_records(spark: SparkSession, settings: Settings) -> dict[tuple[str, date], int]:
    """Ok stage records per (stage, date), counted straight from the `_runs` table."""
    runs = spark.read.format("delta").load(f"{settings.lake_root}/{RUNS_PATH}")
    rows = (runs.where((F.col("table") == STAGE_RECORD) & (F.col("status") == "ok"))
            .groupBy("stage", "date").count().collect())
    return {(row.stage, row.date): row["count"] for row in rows}


@pytest.mark.timeout(1800)  # eighteen stage runs
def test_an_interrupted_backfill_resumes_and_runs_each_date_once(seeded: tuple[Settings, str],
                                                                  spark: SparkSession) -> None:
    settings, _ = seeded
    first = plan(DAILY, DAYS, stage_runs(settings, DAYS), cassandra_written_at(settings))
    assert first == [(stage, day) for day in DAYS for stage in DAILY]

    def interrupt_after_the_first_date(job: tuple[str, date], results: list) -> None:
        if job == ("report", DAYS[0]):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_plan(settings, spark, first, parallel=2, on_done=interrupt_after_the_first_date)
    runs = stage_runs(settings, DAYS)
    assert all(is_done(stage, DAYS[0], runs) for stage in DAILY)
    resumed = plan(DAILY, DAYS, runs, cassandra_written_at(settings))
    assert resumed and {day for _, day in resumed} <= set(DAYS[1:])

    run_plan(settings, spark, resumed, parallel=2)
    assert ok_stage_records(spark, settings) == {(stage, day): 1 for stage in DAILY for day in DAYS}
    assert plan(DAILY, DAYS, stage_runs(settings, DAYS), cassandra_written_at(settings)) == []


def test_the_command_skips_what_is_complete(seeded: tuple[Settings, str], spark: SparkSession,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = seeded
    monkeypatch.setenv("GRIDLAKE_ENV", "test")
    monkeypatch.setenv("GRIDLAKE_CASSANDRA__KEYSPACE", KEYSPACE)
    monkeypatch.setenv("GRIDLAKE_LAKE__ROOT", settings.lake.root)
    result = CliRunner().invoke(app, ["backfill", "--start", str(DAYS[0]), "--end", str(DAYS[-1])])
    assert result.exit_code == 0, result.output
    assert f"0 stage runs to do, {len(DAILY) * len(DAYS)} already complete" in result.output


def test_late_rows_make_exactly_their_dates_due_again(seeded: tuple[Settings, str], spark: SparkSession) -> None:
    settings, truth_path = seeded
    zone = ZoneInfo(settings.grid.timezone)
    late_days = {label["ts"].astimezone(zone).date() for label in pq.read_table(truth_path).to_pylist()
                 if label["fault_kind"] == gt.LATE_ARRIVAL}
    assert late_days, "the seed should hold some rows back"
    after = DAYS[-1] + timedelta(days=1)
    assert late_dates(settings, "extract", after, len(DAYS)) == []

    seed_grid.main(settings, METERS, len(DAYS), START, seed=SEED, fault_rate=FAULT_RATE, late_rows="only")
    assert set(late_dates(settings, "extract", after, len(DAYS))) == late_days & set(DAYS)
    assert late_dates(settings, "validate", after, len(DAYS)) == []  # until they are re-extracted
    due = plan(DAILY, DAYS, stage_runs(settings, DAYS), cassandra_written_at(settings))
    first_late = min(late_days & set(DAYS))
    assert {day for stage, day in due if stage == "extract"} == late_days & set(DAYS)
    # VEE of later dates reads the re-validated ones (like-day estimates): they are due too.
    assert {day for stage, day in due if stage == "validate"} == {day for day in DAYS if day >= first_late}
