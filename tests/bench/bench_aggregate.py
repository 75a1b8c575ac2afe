"""Benchmark of the aggregates job: silver -> every gold table of one date, beside a plain Spark baseline.

A synthetic silver day is built in Spark (no Cassandra, no VEE needed): ``--meters`` meters at
15 minutes on one ordinary local day (96 intervals each, 2% of them estimated, voltages
around 230 V), 200 meters per feeder, 4 feeders per substation, 4 substations per region.
It is written to a scratch lake in the configured format, then timed:

- aggregate rate: silver rows/s of ``run_aggregates`` end to end (read silver, all nine gold
  tables written and read back, ``_runs``), a second run (the idempotent rerun) timed too;
- baseline: the same rows read and summed per meter and date into one lake partition with one
  groupBy, the least any daily aggregate can cost on this machine; the ratio holds across machines.

    .venv/bin/python tests/bench/bench_aggregate.py [--meters 10000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import date, datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.stages import aggregate as aggregate_readings
from jobs.runtime.config import load_settings
from jobs.stores.lake import LakeTableRef
from jobs.runtime.spark import spark_session
from schemas.cassandra import METERS, SENSORS
from schemas.lake import PARTITION_COLUMN, SILVER_METER_READINGS
from jobs.transforms import gold as gold_aggregates

DAY = date(2024, 10, 15)
LOCAL_MIDNIGHT_UTC = datetime(2024, 10, 14, 22, tzinfo=timezone.utc)  # Europe/Tirane, CEST
INTERVALS = 96


def synthetic_silver(spark: SparkSession, meters: int) -> DataFrame:
    """``meters`` x 96 silver intervals of DAY, deterministic (seeded rand)."""
    start = int(LOCAL_MIDNIGHT_UTC.timestamp())
    n = F.col("id")
    meter = F.format_string("M-%06d", (n / INTERVALS).cast("long"))
    slot = n % INTERVALS
    status = F.when(F.rand(7) < 0.02, F.lit("ESTIMATED_LINEAR")).otherwise(F.lit("VALID"))
    frame = spark.range(meters * INTERVALS).select(
        meter.alias("meter_id"), F.lit(DAY).alias(PARTITION_COLUMN),
        F.timestamp_seconds(F.lit(start) + slot * 900).alias("ts"),
        F.concat(meter, F.lit("-"), slot.cast("string")).alias("ingest_id"), F.lit(900).alias("interval_s"),
        (F.rand(1) * 0.8).alias("kwh_import"), F.when(n % 10 == 0, F.rand(2) * 0.3).alias("kwh_export"),
        F.lit(None).alias("kvarh"), (F.lit(230) + F.randn(3) * 4).alias("voltage_v"), F.lit(None).alias("current_a"),
        F.lit(None).alias("power_factor"), F.lit("bench").alias("source"), F.current_timestamp().alias("received_at"),
        status.alias("status"), F.lit(None).alias("rule_id"), F.lit("bench-1").alias("ruleset_version"),
    )
    return frame.select([F.col(c.name).cast(c.spark_type()).alias(c.name) for c in SILVER_METER_READINGS.columns])


def synthetic_meters(spark: SparkSession, meters: int) -> DataFrame:
    schema = gold_aggregates.catalogue_schema(METERS)
    n = F.col("id")
    frame = spark.range(meters).select(
        F.format_string("M-%06d", n).alias("meter_id"), F.lit("residential").alias("meter_class"),
        F.when(n % 3 == 0, F.lit("residential_day_night")).otherwise(F.lit("residential_flat")).alias("tariff"),
        F.format_string("FDR-%04d", (n / 200).cast("long")).alias("feeder_id"),
        F.format_string("SUB-%03d", (n / 800).cast("long")).alias("substation_id"),
        F.format_string("REG-%02d", (n / 3200).cast("long")).alias("region"),
        F.lit("Europe/Tirane").alias("timezone"), F.lit(230).alias("nominal_voltage_v"),
        F.lit(900).alias("interval_s"), F.lit(date(2020, 1, 1)).alias("active_from"),
    )
    return frame.select([F.col(f.name).cast(f.dataType).alias(f.name) if f.name in frame.columns
                         else F.lit(None).cast(f.dataType).alias(f.name) for f in schema.fields])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_settings("local")
    spark = spark_session(base, app_name="gridlake-bench-aggregate")
    with tempfile.TemporaryDirectory(prefix="gridlake-bench-aggregate-") as scratch:
        settings = base.model_copy(deep=True)
        settings.lake.root = f"{scratch}/lake"
        silver = LakeTableRef(spark, settings.lake_root, SILVER_METER_READINGS.path, settings.lake.format)
        silver.replace_partition(synthetic_silver(spark, args.meters), DAY)
        rows = silver.read_partition(DAY, SILVER_METER_READINGS.spark_schema()).count()
        meters = synthetic_meters(spark, args.meters).cache()
        meters.count()
        sensors = spark.createDataFrame([], gold_aggregates.catalogue_schema(SENSORS))

        timings = []
        for _ in range(2):
            started = time.perf_counter()
            records = aggregate_readings.run_aggregates(spark, settings, DAY, meters, sensors)
            timings.append(time.perf_counter() - started)
        gold_rows = {record.table: record.rows_written for record in records}

        baseline = LakeTableRef(spark, f"{scratch}/baseline", "meter_totals", settings.lake.format)
        started = time.perf_counter()
        totals = (silver.read_partition(DAY, SILVER_METER_READINGS.spark_schema())
                  .groupBy("meter_id", PARTITION_COLUMN).agg(F.sum("kwh_import").alias("kwh_import")))
        baseline.replace_partition(totals.coalesce(1), DAY)
        baseline_seconds = time.perf_counter() - started

    rate, rerun_rate, baseline_rate = rows / timings[0], rows / timings[1], rows / baseline_seconds
    print(f"\nsynthetic silver: {args.meters:,} meters x {INTERVALS} intervals = {rows:,} rows, "
          f"format {settings.lake.format}, master {settings.spark.master}")
    print(f"aggregate (silver -> 9 gold tables, one date): {timings[0]:.1f} s = {rate:,.0f} rows/s")
    print(f"rerun of the same date (idempotent replace):   {timings[1]:.1f} s = {rerun_rate:,.0f} rows/s")
    print(f"baseline (one groupBy sum per meter-day, one partition write): {baseline_seconds:.1f} s "
          f"= {baseline_rate:,.0f} rows/s")
    print(f"ratio aggregate / baseline: {rate / baseline_rate:.2f} (nine tables against one)")
    print("gold rows: " + ", ".join(f"{table.split('/')[-1]} {count:,}" for table, count in gold_rows.items()))
    print("seconds per table (rerun, write and read-back): "
          + ", ".join(f"{r.table.split('/')[-1]} {r.seconds:.1f}" for r in records))


if __name__ == "__main__":
    main()
