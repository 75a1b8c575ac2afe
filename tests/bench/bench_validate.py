"""Benchmark of VEE and the aggregates on the standard set, each beside a plain Spark limit.

Measured in one run, on a seeded set (default the standard 10,000 meters x 2 days at
15 minutes, 1% faults, tests/bench/bench_support.py): the first day is validated to give the
second like-day history, then the second day is timed end to end (read bronze and silver
history, every rule, estimation, both partition writes, read-back and the conservation
check). Beside it, the same machine's limit for the stage: the same bronze partition read
and written to a lake table with the same layout and no rules. Their ratio is the figure
that holds across machines.

Then the aggregates of that day are timed on the silver VEE just wrote (every gold table,
catalogue from Cassandra), beside one groupBy sum per meter-day of the same silver rows
written to one lake partition (tests/bench/bench_aggregate.py times them on a synthetic
silver day without Cassandra).

    .venv/bin/python tests/bench/bench_validate.py [--meters 10000] [--days 2] [--fault-rate 0.01]  # defaults: the standard set
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench_support import START, drop, seeded
from pyspark.sql import functions as F

from jobs.stages import aggregate as aggregate_readings
from jobs.stages import extract as extract_readings
from jobs.stages import validate as validate_readings
from jobs.runtime.config import load_settings
from jobs.runtime.dates import date_range
from jobs.stores.lake import LakeTableRef
from jobs.runtime.spark import spark_session
from schemas.lake import BRONZE_METER_READINGS, PARTITION_COLUMN, SILVER_METER_READINGS
from jobs.stores import cassandra_tables
from jobs.transforms import bronze_layout
from schemas import feeds

KEYSPACE = "grid_bench_validate"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    args = parser.parse_args()
    if args.days < 2:
        parser.error("--days must be at least 2: the timed day needs a day of history")
    logging.basicConfig(level=logging.WARNING)
    base = load_settings("local")
    spark = spark_session(base, app_name="gridlake-bench-validate")
    days = date_range(START, START + timedelta(days=args.days - 1))
    timed_day = days[-1]

    with tempfile.TemporaryDirectory(prefix="gridlake-bench-") as scratch:
        work = Path(scratch)
        settings = seeded(base, KEYSPACE, args.meters, args.days, work / "lake", args.fault_rate)
        for day in days:
            extract_readings.extract_feed(spark, settings, feeds.METER_FEED, day)
        catalogue = cassandra_tables.read_catalogue(spark, settings).cache()
        catalogue.count()
        for day in days[:-1]:
            validate_readings.main(settings, day, spark, catalogue)
        started = time.perf_counter()
        [record] = validate_readings.main(settings, timed_day, spark, catalogue)
        vee_seconds = time.perf_counter() - started

        bronze = LakeTableRef(spark, settings.lake_root, BRONZE_METER_READINGS.path, settings.lake.format)
        copy = LakeTableRef(spark, str(work / "copy"), "silver/meter_readings", settings.lake.format)
        started = time.perf_counter()
        frame = bronze.read_partition(timed_day, BRONZE_METER_READINGS.spark_schema())
        files = bronze_layout.file_count(record.rows_read, settings.lake.bytes_per_reading,
                                            settings.lake.target_file_mb * 2**20)
        copy.replace_partition(bronze_layout.lay_out(frame, "meter_id", files), timed_day)
        copied = copy.read_partition(timed_day).count()
        copy_seconds = time.perf_counter() - started

        silver = LakeTableRef(spark, settings.lake_root, SILVER_METER_READINGS.path, settings.lake.format)
        silver_rows = silver.read_partition(timed_day, SILVER_METER_READINGS.spark_schema()).count()
        started = time.perf_counter()
        aggregate_readings.main(settings, timed_day, spark)
        aggregate_seconds = time.perf_counter() - started
        totals = LakeTableRef(spark, str(work / "totals"), "meter_totals", settings.lake.format)
        started = time.perf_counter()
        summed = (silver.read_partition(timed_day, SILVER_METER_READINGS.spark_schema())
                  .groupBy("meter_id", PARTITION_COLUMN).agg(F.sum("kwh_import").alias("kwh_import")))
        totals.replace_partition(summed.coalesce(1), timed_day)
        totals_seconds = time.perf_counter() - started
        drop(settings)

    vee_rate = record.rows_read / vee_seconds
    copy_rate = copied / copy_seconds
    print(f"\nset: {args.meters:,} meters x {args.days} days, {args.fault_rate:.0%} faults, format {base.lake.format}, "
          f"Spark {base.spark.master}")
    print(f"VEE (bronze -> silver + quarantine, one day): {record.rows_read:,} readings in {vee_seconds:.1f} s "
          f"= {vee_rate:,.0f} readings/s ({record.rows_written:,} rows written)")
    print(f"plain copy of the same partition (read, lay out, write, read back): {copy_rate:,.0f} readings/s")
    print(f"ratio VEE / copy: {vee_rate / copy_rate:.2f}")
    aggregate_rate, totals_rate = silver_rows / aggregate_seconds, silver_rows / totals_seconds
    print(f"aggregate (silver -> every gold table, one day): {silver_rows:,} silver rows in {aggregate_seconds:.1f} s "
          f"= {aggregate_rate:,.0f} rows/s")
    print(f"one groupBy sum per meter-day of the same rows, one partition write: {totals_rate:,.0f} rows/s")
    print(f"ratio aggregate / groupBy: {aggregate_rate / totals_rate:.2f} (every gold table against one sum)")


if __name__ == "__main__":
    main()
