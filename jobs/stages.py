"""The stages of the daily pipeline as data: their modules, their order, what each reads.

Kept free of Spark imports so the command line and the DAG files can read it at once.
"""

from __future__ import annotations

#: stage -> the module whose ``main(settings, run_date, spark)`` runs it
STAGES = {
    "extract": "jobs.extract_readings",
    "compact": "jobs.compact_partitions",
    "validate": "jobs.validate_readings",
    "aggregate": "jobs.aggregate_readings",
    "index": "jobs.build_search_index",
    "publish": "jobs.publish_aggregates",
    "report": "jobs.run_report",
    "housekeeping": "jobs.maintenance",
}
#: the daily pipeline in order; each stage's inputs are the outputs of its UPSTREAM stages
DAILY = ("extract", "validate", "aggregate", "index", "publish", "report")
UPSTREAM: dict[str, tuple[str, ...]] = {
    "extract": (),
    "compact": ("extract",),
    "validate": ("extract",),
    "aggregate": ("validate",),
    "index": ("aggregate",),
    "publish": ("aggregate",),
    "report": ("index", "publish"),
    "housekeeping": (),
}
#: stages whose run for a date reads their own output of earlier dates (like-day estimates,
#: anomaly baselines), so a range runs them in date order
READS_EARLIER_DATES = frozenset({"validate", "aggregate"})
#: the `_runs` table name of a stage's own record, written after all of its tables
STAGE_RECORD = "(stage)"
