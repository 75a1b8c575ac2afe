"""The stages of the daily pipeline as data: their names, their order, what each reads.

Free of Spark so the command line and the DAG files can read it at once. The stage modules
themselves are in jobs/pipeline/runner.py's ``STAGE_JOBS``.
"""

from __future__ import annotations

#: every stage, in running order
STAGES = ("extract", "compact", "validate", "aggregate", "index", "publish", "release", "report", "housekeeping")
#: the daily pipeline in order; each stage's inputs are the outputs of its UPSTREAM stages
#: (``release`` joins it only with release.mode candidate, in grid_daily)
DAILY = ("extract", "validate", "aggregate", "index", "publish", "report")
UPSTREAM: dict[str, tuple[str, ...]] = {
    "extract": (),
    "compact": ("extract",),
    "validate": ("extract",),
    "aggregate": ("validate",),
    "index": ("aggregate",),
    "publish": ("aggregate",),
    "release": ("index", "publish"),
    "report": ("index", "publish"),
    "housekeeping": (),
}
#: stages whose run for a date reads their own output of earlier dates (like-day estimates,
#: anomaly baselines), so a range runs them in date order
READS_EARLIER_DATES = frozenset({"validate", "aggregate"})
#: the `_runs` table name of a stage's own record, written after all of its tables
STAGE_RECORD = "(stage)"
