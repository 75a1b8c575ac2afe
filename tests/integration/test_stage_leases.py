"""Leases on (stage, date) in the real Cassandra: two runs of one date never go together."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import seed_grid
from jobs.pipeline.planning import is_done, plan
from jobs.pipeline.registry import STAGE_RECORD
from jobs.pipeline.runner import run_stage, stage_runs
from jobs.runtime.config import PROJECT_ROOT, Settings
from jobs.runtime.java import java_environment
from jobs.stores.clients import cassandra_session
from jobs.stores.lake import LakeTableRef
from jobs.stores.runs import RUNS_PATH, RunRecord
from jobs.stores.stage_leases import LeaseHeld, LeaseLost, stage_lease
from schemas.lake import BRONZE_METER_READINGS, SILVER_METER_READINGS

KEYSPACE = "grid_lease_test"
DAY = date(2024, 10, 26)


@pytest.fixture(scope="module")
def seeded(fresh_keyspace: Callable[[str], Settings], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = fresh_keyspace(KEYSPACE)
    settings.lake.root = str(tmp_path_factory.mktemp("lease-lake"))
    seed_grid.main(settings, 4, 1, DAY, seed=7, fault_rate=0.0, late_rows="include")
    return settings


def bronze_rows(spark: SparkSession, settings: Settings) -> set[tuple]:
    table = LakeTableRef(spark, settings.lake_root, BRONZE_METER_READINGS.path, settings.lake.format)
    frame = table.read(BRONZE_METER_READINGS.spark_schema()).where(F.col("date") == DAY)
    return {tuple(row) for row in frame.select("meter_id", "ts", "ingest_id").collect()}


def extract_records(spark: SparkSession, settings: Settings) -> list[str]:
    runs = spark.read.format("delta").load(f"{settings.lake_root}/{RUNS_PATH}")
    return [row.status for row in runs.where((F.col("stage") == "extract") & (F.col("table") == STAGE_RECORD)
                                             & (F.col("date") == DAY)).collect()]


def test_two_runs_of_a_date_started_together_one_runs_and_the_other_names_it(seeded: Settings,
                                                                              spark: SparkSession) -> None:
    with cassandra_session(seeded) as session:
        readings = session.execute(f"SELECT COUNT(*) FROM {KEYSPACE}.meter_readings WHERE day = %s ALLOW FILTERING",
                                   (DAY,)).one()[0]
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(run_stage(seeded, "extract", DAY, spark))
        except LeaseHeld as refused:
            outcomes.append(refused)

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()

    (refused,) = [outcome for outcome in outcomes if isinstance(outcome, LeaseHeld)]
    assert re.fullmatch(rf"extract {DAY} is already running: run [0-9a-f]{{12}} \(pid {os.getpid()} on .+, since "
                        r"[0-9: -]+ UTC\); .+", str(refused))
    together = bronze_rows(spark, seeded)
    assert len(together) == readings, "the one run wrote each of the day's readings once"
    assert sorted(extract_records(spark, seeded)) == ["ok", "running"], "one run announced and ended; the refused " \
                                                                        "one recorded nothing"

    assert any(isinstance(r, RunRecord) for r in run_stage(seeded, "extract", DAY, spark)), "the date is free again"
    assert bronze_rows(spark, seeded) == together, "the same as a single run"


HOLD = """
import sys, time
from datetime import date
from pathlib import Path
from jobs.runtime.config import load_settings
from jobs.stores.stage_leases import stage_lease
settings = load_settings("test")
settings.cassandra.keyspace = sys.argv[1]
with stage_lease(settings, "report", date.fromisoformat(sys.argv[2])):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_on_this_host_is_taken_over_at_once(seeded: Settings) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, KEYSPACE, str(DAY)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld, match=rf"report {DAY} is already running: .*\(pid {holder.pid} on "):
            with stage_lease(seeded, "report", DAY):
                pass
        holder.kill()
        holder.wait(timeout=10)
        began = time.monotonic()
        with stage_lease(seeded, "report", DAY):
            taken_after = time.monotonic() - began
        assert taken_after < seeded.lease.ttl_s, "not left to expire: its process is gone"
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_run_killed_mid_stage_leaves_its_date_not_done_and_the_rerun_completes_it(
        seeded: Settings, spark: SparkSession, tmp_path) -> None:
    """`gridlake run validate` SIGKILLed (by its pid) once it has announced itself; the same date
    then runs at once on this host and ends as a single run would."""
    settings = seeded.model_copy(deep=True)
    settings.lake.root, settings.lake.format = str(tmp_path / "lake"), "parquet"
    run_stage(settings, "extract", DAY, spark)
    env = {**os.environ, **java_environment(settings), "GRIDLAKE_ENV": "test", "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
           "GRIDLAKE_LAKE__ROOT": settings.lake.root, "GRIDLAKE_LAKE__FORMAT": "parquet"}
    killed = subprocess.Popen([str(Path(sys.executable).parent / "gridlake"), "run", "validate", "--date", str(DAY)],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while stage_runs(settings, [DAY]).get(("validate", DAY)) is None:
            assert killed.poll() is None and time.monotonic() < deadline, "the run never announced itself"
            time.sleep(0.2)
        killed.kill()
        killed.wait(timeout=30)
    finally:
        if killed.poll() is None:
            killed.kill()
    runs = stage_runs(settings, [DAY])
    assert runs[("validate", DAY)].status == "running" and not is_done("validate", DAY, runs)
    assert ("validate", DAY) in plan(["extract", "validate"], [DAY], runs)

    run_stage(settings, "validate", DAY, spark)
    after_kill = silver_rows(spark, settings)
    run_stage(settings, "validate", DAY, spark)
    assert after_kill and silver_rows(spark, settings) == after_kill, "the rerun equals a single run"
    assert is_done("validate", DAY, stage_runs(settings, [DAY]))


def silver_rows(spark: SparkSession, settings: Settings) -> set[tuple]:
    table = LakeTableRef(spark, settings.lake_root, SILVER_METER_READINGS.path, settings.lake.format)
    return {tuple(row) for row in table.read_partition(DAY).select("meter_id", "ts").collect()}


def test_a_lease_taken_from_a_run_fails_it_and_it_never_frees_the_other(seeded: Settings) -> None:
    settings = seeded.model_copy(deep=True)
    settings.lease.ttl_s = 3
    table = f"{KEYSPACE}.stage_leases"
    with cassandra_session(settings) as session, pytest.raises(LeaseLost, match=f"compact {DAY}: the run's lease"):
        with stage_lease(settings, "compact", DAY):
            session.execute(f"UPDATE {table} SET holder = 'intruder' WHERE stage = 'compact' AND day = %s", (DAY,))
            time.sleep(settings.lease.ttl_s / 3 + 1.5)  # a heartbeat finds it gone
    with cassandra_session(settings) as session:
        row = session.execute(f"SELECT holder FROM {table} WHERE stage = 'compact' AND day = %s", (DAY,)).one()
    assert row is not None and row.holder == "intruder"
