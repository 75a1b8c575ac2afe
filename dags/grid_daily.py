"""grid_daily: one run per local day: extract -> validate -> aggregate -> (index || publish) -> report.

Thin by design: each task submits jobs/pipeline/submit.py for the run's local date; all logic is in
jobs/. The lake tables a task writes are its outlets (Airflow assets), so other DAGs can be
scheduled on the data.
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, task

from jobs.pipeline.airflow_tasks import abort_release_task, dag_policy, lake_uri, spark_stage_task, stage_outputs
from jobs.runtime.config import load_settings

SETTINGS = load_settings()
LOCAL_DATE = "{{ grid_local_date(data_interval_start, params.grid_timezone) }}"
LATE_DAYS = SETTINGS.airflow.late_data_days
STAGES = ("extract", "validate", "aggregate", "index", "publish", "report")


def assets(stage: str) -> list[Asset]:
    """The lake tables ``stage`` writes, as Airflow assets named by their URI (a name must
    stay with one URI, and every lake root has its own tables)."""
    return [Asset(uri=lake_uri(SETTINGS, path)) for path in stage_outputs().get(stage, ())]


with DAG(
    dag_id="grid_daily",
    # A data interval is one local day of the grid: [local midnight, next local midnight).
    **dag_policy(SETTINGS, "0 0 * * *", first_local_day="2024-01-01"),
    tags=["gridlake", "daily"],
    doc_md="""
### grid_daily
For each local day of the grid (`grid.timezone`): extract the day's meter and sensor readings
from Cassandra into `bronze/`, validate and estimate them into `silver/` (VEE), aggregate them
into `gold/`, then in parallel build the day's search indices (alias swap) and publish its
figures into the Redis serving cache (version flip), and last write the day's HTML run
report under `<lake>/_reports/`. With `release.mode: candidate` the figures and indices wait
as candidates (served by the edge's canary pool) until the `release` task checks and promotes
them; when it refuses or fails, `abort` drops them and fails the run.

Late data: every task first re-processes those of the `airflow.late_data_days` days before
its date whose inputs changed since it last ran them (for the extract: Cassandra received
readings after the day was extracted), so only the changed days are re-indexed and re-published.

Backfill a range with Airflow (needs a running scheduler):
`airflow backfill create --dag-id grid_daily --from-date 2024-10-01 --to-date 2024-10-31`,
or without a scheduler: `gridlake backfill --start 2024-10-01 --end 2024-10-31`.
""",
) as dag:
    tasks = {
        stage: spark_stage_task(SETTINGS, stage, ["--date", LOCAL_DATE, "--late-days", str(LATE_DAYS)],
                                outlets=assets(stage))
        for stage in STAGES
    }
    tasks["extract"] >> tasks["validate"] >> tasks["aggregate"] >> [tasks["index"], tasks["publish"]]
    if SETTINGS.release.mode == "candidate":
        # The day's figures and indices wait as candidates: released together when they pass
        # their checks, dropped when they do not (or the release fails).
        release = spark_stage_task(SETTINGS, "release", ["--date", LOCAL_DATE])

        @task(trigger_rule="one_failed")
        def abort(local_date: str) -> None:
            """Drop the day's candidates (the release refused or failed), then fail the run."""
            abort_release_task(SETTINGS, local_date)

        [tasks["index"], tasks["publish"]] >> release >> abort(LOCAL_DATE)
    [tasks["index"], tasks["publish"]] >> tasks["report"]
