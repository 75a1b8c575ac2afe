"""grid_maintenance: weekly housekeeping of the lake, the search indices and the serving cache.

compact (OPTIMIZE / rewrite of the week's bronze partitions) -> housekeeping (VACUUM, `_runs`
pruning); beside them, old search index versions and stale Redis versions. Thin like
grid_daily: the work is in jobs/stages/housekeeping.py and jobs/stages/compact.py, reached
through jobs/pipeline/airflow_tasks.py.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from jobs.pipeline.airflow_tasks import (dag_policy, expire_stale_cache_versions_via_provider,
                                         prune_search_versions_via_provider, spark_stage_task)
from jobs.runtime.config import load_settings

SETTINGS = load_settings()
# The week of the run: its first and last local dates.
WEEK_START = "{{ grid_local_date(data_interval_start, params.grid_timezone) }}"
WEEK_END = "{{ grid_local_date(data_interval_end - macros.timedelta(days=1), params.grid_timezone) }}"

with DAG(
    dag_id="grid_maintenance",
    # Sundays at 03:00 local time, over the week that just ended.
    **dag_policy(SETTINGS, "0 3 * * 0", first_local_day="2024-01-07"),
    tags=["gridlake", "maintenance"],
    doc_md="""
### grid_maintenance
Weekly: compact the week's bronze partitions (Delta OPTIMIZE with Z-ORDER by meter; Parquet/ORC
rewrite and swap), then VACUUM Delta files older than `lake.vacuum_retention_hours` and delete
`_runs` rows older than `maintenance.runs_retention_days`. Beside that: delete search index
versions beyond `search.keep_versions` (never a live one), and let Redis versions that are not
live (failed publishes) expire after `cache.grace_s`.
""",
) as dag:

    @task
    def prune_search_versions() -> list[str]:
        """Old and failed index versions, through the Elasticsearch provider's connection."""
        return prune_search_versions_via_provider(SETTINGS)

    @task
    def expire_stale_cache_versions() -> dict[str, int]:
        """Redis versions that are not live, through the Redis provider's connection."""
        return expire_stale_cache_versions_via_provider(SETTINGS)

    compact = spark_stage_task(SETTINGS, "compact", ["--date", WEEK_START, "--end", WEEK_END])
    compact >> spark_stage_task(SETTINGS, "housekeeping", ["--date", WEEK_END])
    prune_search_versions()
    expire_stale_cache_versions()
