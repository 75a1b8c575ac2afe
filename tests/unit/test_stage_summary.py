"""`gridlake runs`: the latest stage record per (stage, date) from `_runs`, and the quarantined
rows per rule, read without Spark for a Delta lake and through Spark for Parquet and ORC."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.runtime.config import Settings
from jobs.stores.lake import LakeTableRef
from jobs.pipeline.planning import is_done
from jobs.pipeline.runner import stage_runs, stage_summary
from jobs.stores.runs import RunRecord, append_runs
from jobs.pipeline.registry import STAGE_RECORD
from schemas.lake import SILVER_QUARANTINE

D1, D2, D3 = date(2024, 10, 26), date(2024, 10, 27), date(2024, 10, 28)
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
#: quarantined rows per date and rule, as written below
QUARANTINED = {D1: {"V05_negative_import": 2, "V12_unknown_meter": 3}, D2: {"V12_unknown_meter": 1},
               D3: {"V03_duplicate_exact": 4}}


def record(stage: str, day: date, minute: int, status: str = "ok", table: str = STAGE_RECORD) -> RunRecord:
    return RunRecord(stage=stage, table=table, date=day, started_at=T0 + timedelta(minutes=minute), status=status,
                     rows_read=minute)


def write_quarantine(spark: SparkSession, settings: Settings) -> None:
    table = LakeTableRef(spark, settings.lake_root, SILVER_QUARANTINE.path, settings.lake.format)
    given = {"meter_id": F.lit("MTR-1"), "ts": F.lit(T0), "ingest_id": F.col("id").cast("string"),
             "reason": F.lit("test")}
    for day, rules in QUARANTINED.items():
        rows = spark.createDataFrame([(rule,) for rule, n in rules.items() for _ in range(n)], "rule_id string")
        rows = rows.withColumn("id", F.monotonically_increasing_id()).withColumn("date", F.lit(day))
        frame = rows.select([(given.get(c.name) if c.name in given else
                              F.col(c.name) if c.name in ("rule_id", "date") else
                              F.lit("r1") if c.name == "ruleset_version" else F.lit(None))
                             .cast(c.spark_type()).alias(c.name) for c in SILVER_QUARANTINE.columns])
        table.replace_partition(frame, day)


@pytest.mark.parametrize("table_format", ["delta", "parquet"])
def test_the_summary_shows_each_stages_latest_record_and_the_quarantine_of_the_dates(
        spark: SparkSession, settings: Settings, tmp_path, table_format: str) -> None:
    local = settings.model_copy(deep=True)
    local.lake.root, local.lake.format = str(tmp_path), table_format
    append_runs(local.lake_root, [
        record("extract", D1, 0, status="failed"), record("extract", D1, 5), record("validate", D1, 6),
        record("extract", D1, 7, table="bronze/meter_readings"),  # a table's record, not the stage's
        record("validate", D2, 9), record("extract", D2, 8), record("extract", D3, 10)])
    write_quarantine(spark, local)

    summary = stage_summary(local, [D1, D2])

    assert [(row["date"], row["stage"], row["status"], row["rows_read"]) for row in summary.stages] == [
        (D1, "extract", "ok", 5), (D1, "validate", "ok", 6), (D2, "extract", "ok", 8), (D2, "validate", "ok", 9)]
    assert summary.quarantine == {"V05_negative_import": 2, "V12_unknown_meter": 4}


def test_before_any_run_the_summary_is_empty(settings: Settings, tmp_path) -> None:
    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path)
    summary = stage_summary(local, [D1])
    assert (summary.stages, summary.quarantine) == ([], {})


def test_gridlake_runs_prints_the_stages_and_says_when_nothing_was_quarantined(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from jobs.cli import app

    monkeypatch.setenv("GRIDLAKE_LAKE__ROOT", str(tmp_path))
    monkeypatch.setenv("GRIDLAKE_LAKE__FORMAT", "delta")
    append_runs(str(tmp_path), [record("extract", D1, 7), record("validate", D1, 8)])

    result = CliRunner().invoke(app, ["runs", "--date", D1.isoformat(), "--env", "test"], terminal_width=120)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [[cell.strip() for cell in line.split("│")[1:5]] for line in lines if line.startswith("│")] == [
        ["2024-10-26", "extract", "ok", "7"], ["2024-10-26", "validate", "ok", "8"]]
    assert lines[-1] == "quarantined readings (silver/quarantine): none"


def test_a_run_killed_after_it_announced_itself_leaves_its_date_not_done(settings: Settings, tmp_path) -> None:
    """A stage record appended as running when the run starts: the run that ended appends its
    outcome with the same start (it wins); a killed one appends nothing (running stays latest)."""
    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path)
    append_runs(local.lake_root, [
        record("extract", D1, 0, status="running"), record("extract", D1, 0),  # started and ended ok
        record("extract", D2, 0), record("extract", D2, 5, status="running")])  # ok, then a run was killed

    runs = stage_runs(local, [D1, D2])

    assert {day: run.status for (_, day), run in runs.items()} == {D1: "ok", D2: "running"}
    assert is_done("extract", D1, runs) and not is_done("extract", D2, runs)


def test_the_report_takes_a_runs_outcome_over_its_announcement_and_counts_runs_once(spark: SparkSession,
                                                                                    settings: Settings,
                                                                                    tmp_path) -> None:
    from jobs.stores.runs import runs_frame
    from jobs.transforms.report_figures import latest_runs

    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path)
    first = record("extract", D1, 0, status="running")
    ended = RunRecord(stage="extract", table=STAGE_RECORD, date=D1, started_at=first.started_at, run_id=first.run_id,
                      status="failed")
    rerun = record("extract", D1, 5, status="running")
    append_runs(local.lake_root, [ended, first, rerun, RunRecord(stage="extract", table=STAGE_RECORD, date=D1,
                                                                  started_at=rerun.started_at, run_id=rerun.run_id,
                                                                  status="ok")])

    (latest,) = latest_runs(runs_frame(spark, local, D1)).collect()

    assert (latest.status, latest.runs) == ("ok", 2)
