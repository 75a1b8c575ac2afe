"""The spark-submit entry point of every job: ``spark-submit jobs/pipeline/submit.py STAGE --date D [--end D2]``.

Airflow's SparkSubmitOperator and engineers on a cluster submit this one file; it imports
only the job it runs. The same jobs run from `gridlake run STAGE` and from notebooks.
With ``--late-days N`` (grid_daily does this) the stage first re-processes those of the N
days before the date whose inputs changed since it last ran them (late data).
"""

from __future__ import annotations

import argparse
from datetime import date

from jobs.pipeline.registry import STAGES


def main(argv: list[str] | None = None) -> None:
    from jobs.pipeline.runner import late_dates, run_stage
    from jobs.runtime.config import load_settings
    from jobs.runtime.dates import date_range
    from jobs.runtime.spark import spark_session
    from jobs.stores.runs import RunRecord

    parser = argparse.ArgumentParser(description="Run one gridlake stage for a local date or range.")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="local date, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last local date of a range")
    parser.add_argument("--late-days", type=int, default=0,
                        help="also re-process those of the N days before --date whose inputs changed")
    parser.add_argument("--env", default=None, help="configuration environment (conf/<env>.yaml)")
    arguments = parser.parse_args(argv)
    settings = load_settings(arguments.env)
    spark = spark_session(settings, app_name=f"gridlake-{arguments.stage}")
    days = date_range(arguments.date, arguments.end)
    late = late_dates(settings, arguments.stage, days[0], arguments.late_days)
    if late:
        print(f"late data: {arguments.stage} re-processes {', '.join(map(str, late))}", flush=True)
    for day in [*late, *days]:
        for record in run_stage(settings, arguments.stage, day, spark):
            print(record.log_line() if isinstance(record, RunRecord) else record, flush=True)


if __name__ == "__main__":
    main()
