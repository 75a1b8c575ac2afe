"""DAG integrity, and the local date each run passes to the jobs (ordinary and DST days)."""

from datetime import datetime, timezone
from pathlib import Path

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.base import DataInterval, TimeRestriction

from jobs.dates import grid_local_date

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert "grid_daily" in dagbag.dags


def test_every_task_retries_with_backoff_and_a_timeout(dagbag: DagBag) -> None:
    dag = dagbag.dags["grid_daily"]
    assert dag.doc_md and "backfill" in dag.doc_md
    assert "gridlake" in dag.tags and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.execution_timeout is not None, task.task_id
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream == {"extract": set(), "validate": {"extract"}, "aggregate": {"validate"},
                        "index": {"aggregate"}, "publish": {"aggregate"}}


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
