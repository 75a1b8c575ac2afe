"""grid_daily through Airflow (`dag.test()`) against the real services, one local day.

Every task is a real spark-submit of jobs/pipeline/submit.py with the shipped job package, on the
spark_default connection that conf and the environment define (no Airflow database edits).
The serving Redis of this module is its own instance, so stopping it does not disturb the
rest of the suite: the first run starts with it stopped, the publish task fails with a clear
error, the Redis comes back, and the task's retry succeeds. A second run gives the same gold
rows, documents and published figures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import seed_grid
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_read import CacheReader
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client
from jobs.runtime.config import Settings
from jobs.stores.lake import LakeTableRef
from jobs.pipeline.airflow_tasks import run_day_through_airflow
from jobs.pipeline.runner import stage_runs
from jobs.stores.runs import RUNS_PATH
from jobs.devstack.redis_server import RedisServer
from schemas.gold import METER_DAILY
from schemas.lake import SILVER_METER_READINGS

KEYSPACE = "grid_dag_test"
DAY = date(2024, 10, 27)  # the autumn DST change: a 25-hour local day
METERS = 16
REDIS_URL = "redis://127.0.0.1:6398/0"
PREFIX = "gridlake-dag-test"
RETRY_DELAY_S = 20


@pytest.fixture(scope="module")
def dag_settings(fresh_keyspace: Callable[[str], Settings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Settings]:
    """A seeded keyspace, a temp lake and this module's Redis, exported as GRIDLAKE_* for the
    DAG and its spark-submits (Airflow's connections follow from conf when the run starts)."""
    settings = fresh_keyspace(KEYSPACE)
    settings.lake.root = str(tmp_path_factory.mktemp("dag-lake"))
    settings.redis.url = REDIS_URL
    settings.cache.prefix = PREFIX
    seed_grid.main(settings, METERS, 2, DAY - timedelta(days=1), seed=7, fault_rate=0.03, late_rows="include")
    env = {
        "GRIDLAKE_ENV": "test",
        "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
        "GRIDLAKE_LAKE__ROOT": settings.lake.root,
        "GRIDLAKE_REDIS__URL": REDIS_URL,
        "GRIDLAKE_CACHE__PREFIX": PREFIX,
        "GRIDLAKE_AIRFLOW__RETRIES": "1",
        "GRIDLAKE_AIRFLOW__RETRY_DELAY_S": str(RETRY_DELAY_S),
        "GRIDLAKE_AIRFLOW__MAX_RETRY_DELAY_S": str(RETRY_DELAY_S),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield settings


@pytest.fixture(scope="module")
def redis_server(dag_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """This module's Redis (stopped at first), with its own state dir."""
    own = dag_settings.model_copy(deep=True)
    own.state_dir = tmp_path_factory.mktemp("dag-redis-state")
    server = RedisServer(own)
    yield server
    server.stop()


def run_day(settings: Settings, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """grid_daily for DAY through dag.test(), as `gridlake airflow test-day` runs it."""
    return run_day_through_airflow(settings, DAY, tmp_path / "grid_daily.log")


def content(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    """What the run leaves for users: gold rows, indexed documents and published figures."""
    gold = LakeTableRef(spark, settings.lake_root, METER_DAILY.path, settings.lake.format).read_partition(DAY)
    gold_rows = sorted(tuple(row) for row in gold.drop("date").collect())
    es = elasticsearch_client(settings)
    hits = es.search(index="readings-daily", query={"term": {"date": DAY.isoformat()}}, size=1000)["hits"]["hits"]
    documents = {hit["_id"]: hit["_source"] for hit in hits}
    with cassandra_session(settings) as session:
        reader = CacheReader(redis_client(settings), DurableCopies(session, settings.cassandra.keyspace),
                             ttl_s=3600, prefix=PREFIX)
        published = {row.meter_id: reader.get_meter_daily(row.meter_id, DAY.isoformat()) for row in gold.collect()}
    return {"gold": gold_rows, "documents": documents, "published": published}


def restart_when_publish_fails(spark: SparkSession, settings: Settings, server: RedisServer,
                               seen: dict[str, str]) -> threading.Thread:
    """A watcher: once `_runs` records the publish's failure, start the Redis again."""

    def watch() -> None:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            try:
                runs = stage_runs(settings, [DAY - timedelta(days=1), DAY])
            except Exception as exc:  # noqa: BLE001 - `_runs` is being appended to meanwhile: look again
                seen["last_error"] = repr(exc)
                time.sleep(2)
                continue
            if any(stage == "publish" and run.status == "failed" for (stage, _), run in runs.items()):
                seen["status"] = "failed"
                server.launch()
                server.wait_ready(60)
                return
            time.sleep(2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


@pytest.mark.timeout(2400)  # two whole runs: twelve spark-submits
def test_a_failed_publish_retries_after_redis_restarts_and_reruns_are_idempotent(
        dag_settings: Settings, redis_server: RedisServer, spark: SparkSession, tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    watcher = restart_when_publish_fails(spark, dag_settings, redis_server, seen)
    state, tasks = run_day(dag_settings, tmp_path)
    watcher.join(timeout=5)
    assert seen.get("status") == "failed", f"the publish should have failed while Redis was stopped: {seen}"
    assert state == "success", tasks
    runs = spark.read.format("delta").load(f"{dag_settings.lake_root}/{RUNS_PATH}")
    publish = (runs.where((F.col("stage") == "publish") & (F.col("table") == "(stage)")
                          & (F.col("status") != "running"))  # each run announces itself first
               .orderBy("started_at").collect())
    assert [row.status for row in publish][:2] == ["failed", "ok"]
    assert "6398" in publish[0].error, publish[0].error

    before = content(spark, dag_settings)
    silver = LakeTableRef(spark, dag_settings.lake_root, SILVER_METER_READINGS.path, dag_settings.lake.format)
    silver_meters = {row.meter_id for row in silver.read_partition(DAY).select("meter_id").distinct().collect()}
    assert {row[0] for row in before["gold"]} == silver_meters and len(silver_meters) >= METERS - 2
    assert len(before["documents"]) == len(before["gold"])
    assert all(figures is not None for figures in before["published"].values())
    assert (Path(dag_settings.lake_root) / "_reports" / f"{DAY}.html").is_file()

    state, tasks = run_day(dag_settings, tmp_path)
    assert state == "success", tasks
    assert content(spark, dag_settings) == before
    # The day before was seeded too: the first run caught it up (never extracted, data in
    # Cassandra); the second found it unchanged and left it alone.
    runs = spark.read.format("delta").load(f"{dag_settings.lake_root}/{RUNS_PATH}")
    extracts = (runs.where((F.col("stage") == "extract") & (F.col("table") == "(stage)") & (F.col("status") != "running"))
                .groupBy("date").count())
    assert {row.date: row["count"] for row in extracts.collect()} == {DAY - timedelta(days=1): 1, DAY: 2}
