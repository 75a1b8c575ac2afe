"""The spark-submit entry point of every job: ``spark-submit jobs/submit.py STAGE --date D [--end D2]``.

Airflow's SparkSubmitOperator and engineers on a cluster submit this one file; it imports
only the job it runs. The same jobs run from `gridlake run STAGE` and from notebooks.
"""

from __future__ import annotations

import argparse
import importlib
from datetime import date

#: stage -> the module whose ``main(settings, run_date, spark)`` runs it
STAGES = {
    "extract": "jobs.extract_readings",
    "compact": "jobs.compact_partitions",
    "validate": "jobs.validate_readings",
    "aggregate": "jobs.aggregate_readings",
    "index": "jobs.build_search_index",
    "publish": "jobs.publish_aggregates",
}


def main(argv: list[str] | None = None) -> None:
    from jobs.config import load_settings
    from jobs.dates import date_range
    from jobs.run_log import RunRecord
    from jobs.spark import spark_session

    parser = argparse.ArgumentParser(description="Run one gridlake stage for a local date or range.")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="local date, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last local date of a range")
    parser.add_argument("--env", default=None, help="configuration environment (conf/<env>.yaml)")
    arguments = parser.parse_args(argv)
    settings = load_settings(arguments.env)
    job = importlib.import_module(STAGES[arguments.stage])
    spark = spark_session(settings, app_name=f"gridlake-{arguments.stage}")
    for day in date_range(arguments.date, arguments.end):
        for record in job.main(settings, day, spark):
            print(record.log_line() if isinstance(record, RunRecord) else record, flush=True)


if __name__ == "__main__":
    main()
