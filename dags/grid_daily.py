"""grid_daily: one run per local day: extract -> validate -> aggregate -> (index || publish).

Thin by design: tasks submit jobs/submit.py with the run's local date; all logic is in jobs/.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from jobs.config import load_settings
from jobs.dates import grid_local_date

SETTINGS = load_settings()
GRID_TZ = SETTINGS.grid.timezone
SUBMIT = str(Path(__file__).resolve().parents[1] / "jobs" / "submit.py")
LOCAL_DATE = "{{ grid_local_date(data_interval_start, params.grid_timezone) }}"


def gridlake_jars() -> str:
    """The connector and Delta jars for spark-submit, resolved when a task renders (not at parse)."""
    from jobs.spark import package_jars

    return ",".join(package_jars(SETTINGS))


with DAG(
    dag_id="grid_daily",
    # A data interval is one local day of the grid: [local midnight, next local midnight),
    # 23 or 25 hours long on DST days. Airflow 3 runs plain cron strings without an interval.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=GRID_TZ),
    start_date=pendulum.datetime(2024, 1, 1, tz=GRID_TZ),
    catchup=False,
    max_active_runs=1,
    tags=["gridlake", "daily"],
    params={"grid_timezone": GRID_TZ},
    user_defined_macros={"grid_local_date": grid_local_date, "gridlake_jars": gridlake_jars},
    default_args={
        "retries": SETTINGS.airflow.retries,
        "retry_delay": timedelta(seconds=SETTINGS.airflow.retry_delay_s),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(seconds=SETTINGS.airflow.max_retry_delay_s),
        "execution_timeout": timedelta(minutes=SETTINGS.airflow.task_timeout_min),
    },
    doc_md="""
### grid_daily
For each local day of the grid (`grid.timezone`): extract the day's meter and sensor readings
from Cassandra into `bronze/`, validate and estimate them into `silver/` (VEE), aggregate them
into `gold/`, then in parallel build the day's search indices (alias swap) and publish its
figures into the Redis serving cache (version flip).

Backfill a range with Airflow (needs a running scheduler):
`airflow backfill create --dag-id grid_daily --from-date 2024-10-01 --to-date 2024-10-31`,
or without a scheduler: `gridlake run extract --date 2024-10-01 --end 2024-10-31` stage by stage.
""",
) as dag:
    extract, validate, aggregate, index, publish = (
        SparkSubmitOperator(
            task_id=stage,
            conn_id="spark_default",
            application=SUBMIT,
            application_args=[stage, "--date", LOCAL_DATE],
            jars="{{ gridlake_jars() }}",
            name=f"gridlake-{stage}",
        )
        for stage in ("extract", "validate", "aggregate", "index", "publish")
    )
    extract >> validate >> aggregate >> [index, publish]
