"""Benchmark of `gridlake seed`: rows/s into the local Cassandra beside this machine's limit.

The limit is measured in the same run: write_readings of the very same rows, built in memory
beforehand, into the same freshly truncated tables (the driver and Cassandra alone). The
ratio seed/limit says how much the generator costs on top of the write; it holds across
noisy machines where absolute rates do not.

    .venv/bin/python tests/bench/bench_seed.py [--meters 500] [--days 2]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from datetime import date

from jobs.ingest import seed_grid
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.cassandra_writer import write_readings
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import load_settings
from schemas.cassandra import METER_DAYS, METER_READINGS, SENSOR_DAYS, SENSOR_READINGS

KEYSPACE = "grid_bench_seed"
START = date(2024, 5, 6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings("local")
    settings.cassandra.keyspace = KEYSPACE
    concurrency = settings.cassandra.write_concurrency
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
    try:
        summary = seed_grid.main(settings, args.meters, args.days, START)
        seed_rows = summary.meter_rows + summary.sensor_rows

        grid = seed_grid.synthetic_grid(settings.grid, args.meters, args.days, START)
        meter_rows = list(grid.meter_rows())
        sensor_rows = list(grid.sensor_rows())
        with cassandra_session(settings) as session:
            for table in (METER_READINGS, METER_DAYS, SENSOR_READINGS, SENSOR_DAYS):
                session.execute(f"TRUNCATE {KEYSPACE}.{table.name}")
            began = time.perf_counter()
            written = write_readings(session, KEYSPACE, METER_READINGS, METER_DAYS, meter_rows, concurrency).rows
            written += write_readings(session, KEYSPACE, SENSOR_READINGS, SENSOR_DAYS, sensor_rows, concurrency).rows
            limit_s = time.perf_counter() - began
    finally:
        with cassandra_session(settings) as session:
            session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        shutil.rmtree(seed_grid.ground_truth_path(settings, 0).parents[1], ignore_errors=True)
    seed_rate = seed_rows / summary.seconds
    limit_rate = written / limit_s
    print(f"seed   {args.meters} meters x {args.days} days: {seed_rows} rows in {summary.seconds:.1f} s "
          f"= {seed_rate:,.0f} rows/s (catalogue, labels and connection included)")
    print(f"limit  write_readings of the same rows pre-built: {written} rows in {limit_s:.1f} s "
          f"= {limit_rate:,.0f} rows/s")
    print(f"ratio  seed/limit = {seed_rate / limit_rate:.2f}  (target: seed >= 30,000 rows/s)")


if __name__ == "__main__":
    main()
