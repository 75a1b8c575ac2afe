"""DAG integrity, and the local date each run passes to the jobs (ordinary and DST days)."""

import ast
from datetime import datetime, timezone
from pathlib import Path

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.base import DataInterval, TimeRestriction

from jobs.runtime.dates import grid_local_date

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {"grid_daily", "grid_maintenance"}


@pytest.mark.parametrize("dag_id", ["grid_daily", "grid_maintenance"])
def test_every_task_retries_with_backoff_and_a_timeout(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and "gridlake" in dag.tags and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.execution_timeout is not None, task.task_id


def test_grid_daily_runs_the_stages_in_pipeline_order(dagbag: DagBag) -> None:
    dag = dagbag.dags["grid_daily"]
    assert "backfill" in dag.doc_md
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream == {"extract": set(), "validate": {"extract"}, "aggregate": {"validate"},
                        "index": {"aggregate"}, "publish": {"aggregate"}, "report": {"index", "publish"}}


def test_with_candidate_releases_grid_daily_releases_or_aborts_after_index_and_publish(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_RELEASE__MODE", "candidate")
    dag = DagBag(dag_folder=str(DAGS / "grid_daily.py")).dags["grid_daily"]
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream["release"] == {"index", "publish"} and upstream["abort"] == {"release"}
    assert upstream["report"] == {"index", "publish"}, "the day's report is written whatever the release does"
    assert dag.get_task("abort").trigger_rule == "one_failed"
    assert dag.get_task("release").application_args[:2] == ["release", "--date"]
    for task in (dag.get_task("release"), dag.get_task("abort")):
        assert task.retries >= 1 and task.execution_timeout is not None, task.task_id


def test_spark_tasks_submit_the_shipped_job_package_on_spark_default(dagbag: DagBag) -> None:
    extract = dagbag.dags["grid_daily"].get_task("extract")
    assert extract._conn_id == "spark_default"  # the operator keeps it private
    assert extract.py_files == "{{ gridlake_py_files() }}" and extract.jars == "{{ gridlake_jars() }}"
    assert extract.application.endswith("jobs/pipeline/submit.py")
    assert extract.application_args[:2] == ["extract", "--date"] and "--late-days" in extract.application_args
    # The submitted driver gets the JVM options of an in-process session (logging, collector).
    options = extract.conf["spark.driver.extraJavaOptions"].split()
    assert "-XX:+UseParallelGC" in options and any(o.startswith("-Dlog4j.configurationFile=") for o in options)


def test_each_spark_stage_has_a_pool_of_its_own(dagbag: DagBag) -> None:
    """One slot per stage: the scheduler never runs a stage twice at once (a backfill beside the
    daily run); the DAG file's tasks are compared with the pipeline's stages."""
    from jobs.pipeline.registry import STAGES

    spark_tasks = [task for dag in dagbag.dags.values() for task in dag.tasks
                   if task.task_type == "SparkSubmitOperator"]
    assert {"extract", "validate", "aggregate"} <= {task.task_id for task in spark_tasks} <= set(STAGES)
    assert all(task.pool == f"gridlake_{task.task_id}" for task in spark_tasks)


def test_each_stage_declares_the_lake_tables_it_writes_as_assets(dagbag: DagBag) -> None:
    dag = dagbag.dags["grid_daily"]
    uris = {task.task_id: {asset.uri for asset in task.outlets} for task in dag.tasks}
    assert any(uri.endswith("/bronze/meter_readings") for uri in uris["extract"])
    assert any(uri.endswith("/silver/quarantine") for uri in uris["validate"])
    assert any(uri.endswith("/gold/meter_daily") for uri in uris["aggregate"])


@pytest.mark.parametrize(("previous_end_utc", "local_date", "hours"), [
    pytest.param(datetime(2024, 6, 9, 22, tzinfo=timezone.utc), "2024-06-10", 24, id="ordinary-summer-day"),
    pytest.param(datetime(2024, 3, 30, 23, tzinfo=timezone.utc), "2024-03-31", 23, id="spring-forward"),
    pytest.param(datetime(2024, 10, 26, 22, tzinfo=timezone.utc), "2024-10-27", 25, id="fall-back"),
])
def test_each_run_gets_its_local_day(dagbag: DagBag, previous_end_utc: datetime, local_date: str,
                                     hours: int) -> None:
    dag = dagbag.dags["grid_daily"]
    previous = DataInterval(pendulum.instance(previous_end_utc) - pendulum.duration(days=1),
                            pendulum.instance(previous_end_utc))
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=previous,
                                          restriction=TimeRestriction(earliest=None, latest=None, catchup=True))
    interval = info.data_interval
    assert (interval.end - interval.start).in_hours() == hours
    # ds would give the UTC date, the day before for Tirana:
    assert interval.start.in_timezone("UTC").date().isoformat() != local_date
    assert grid_local_date(interval.start, "Europe/Tirane") == local_date


@pytest.mark.parametrize("dag_file", sorted(DAGS.glob("*.py")), ids=lambda path: path.name)
def test_dag_files_import_only_the_airflow_glue_and_configuration(dag_file: Path) -> None:
    """The layering rule for DAG files (docs/layout.md), which import-linter cannot see: they
    are not a package. Every import of the project, at any depth of the file, is listed."""
    tree = ast.parse(dag_file.read_text())
    project = {node.module for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module
               and node.module.split(".")[0] in ("jobs", "schemas", "pyspark")}
    project |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
                if alias.name.split(".")[0] in ("jobs", "schemas", "pyspark")}
    assert project <= {"jobs.pipeline.airflow_tasks", "jobs.runtime.config"}, project

