"""Benchmark of the extract: Cassandra -> bronze, beside this machine's own limits.

Measured in one run, on the standard set (10,000 meters x 2 days at 15 minutes, seeded):
- extract rate: readings/s of one day end to end (Cassandra read, layout, lake write, checks),
  beside two read limits: the same day read the same way (the day's keys, the connector's
  direct join, gridlake's row reader, the bronze columns) into Spark's no-op sink, which is the
  extract without its sort and lake write; and Cassandra's own, a concurrent token-range scan
  with the Python driver. Beside them, the connector's DataFrame direct join reading the same
  columns of the same day into the no-op sink: what the row reader replaced.
  Three figures, because the JVM's compiler keeps warming for several extracts:
  - cold: the first day, once, in a fresh session (as an Airflow task's spark-submit runs);
  - rerun: the median of the next REPEATS extracts, of the second day (the daily rerun);
  - steady: the median of REPEATS more, the pace of a long session (a backfill, a notebook);
- lake write rate of the same rows already in memory, and pyarrow writing the very same
  rows with the same compression (ZSTD) to one Parquet file: their ratio is the figure that
  holds across machines;
- bytes per reading on disk, files per partition, and what raw CSV of the rows takes;
- scan independence: the same day extracted with 1 and with 14 days stored (ratio of times;
  the extract must not scan the table, so the goal is < 1.3).

    .venv/bin/python tests/bench/bench_extract.py [--meters 10000] [--days 2] [--scan-meters 1000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from cassandra.concurrent import execute_concurrent_with_args

from bench_support import START, drop, seeded
from jobs.stages import extract as extract_readings
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings, load_settings
from jobs.stores.lake import LakeTableRef
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import CASSANDRA_FORMAT
from schemas.lake import BRONZE_METER_READINGS
from jobs.stores import cassandra_tables
from jobs.transforms import bronze_layout
from schemas import feeds

def token_range_scan_rate(settings: Settings, ranges: int = 64, concurrency: int = 32) -> tuple[int, float]:
    """Cassandra's own read limit here: every row of meter_readings through the Python driver,
    the token ring split into ``ranges`` scanned concurrently. Returns (rows, rows/s)."""
    low, high = -(2**63), 2**63 - 1
    step = (high - low) // ranges
    bounds = [(low + n * step, high if n == ranges - 1 else low + (n + 1) * step) for n in range(ranges)]
    with cassandra_session(settings, timeout_s=120) as session:
        query = session.prepare(f"SELECT ts FROM {settings.cassandra.keyspace}.meter_readings "
                                "WHERE token(meter_id, day) > ? AND token(meter_id, day) <= ?")
        query.fetch_size = 5000
        started = time.perf_counter()
        results = execute_concurrent_with_args(session, query, bounds, concurrency=concurrency)
        rows = sum(sum(1 for _ in result.result_or_exc) for result in results)
        return rows, rows / (time.perf_counter() - started)


def day_read_seconds(spark, settings: Settings, day: date, through_dataframe: bool = False) -> float:  # noqa: ANN001
    """Seconds to read ``day``'s meter readings as the extract does, into the no-op sink; or,
    ``through_dataframe``, the same columns through the connector's DataFrame direct join."""
    feed = feeds.METER_FEED
    cores = spark.sparkContext.defaultParallelism
    started = time.perf_counter()
    keys = cassandra_tables.day_keys(spark, settings.cassandra.keyspace, feed, day).cache()
    keys.count()
    if through_dataframe:
        readings = (spark.read.format(CASSANDRA_FORMAT)
                    .options(keyspace=settings.cassandra.keyspace, table=feed.readings.name, directJoinSetting="on",
                             **{"spark.cassandra.concurrent.reads": str(settings.cassandra.read_concurrency),
                                "spark.cassandra.input.metrics": "false"}).load())
        ranged = keys.repartitionByRange(cores, feed.device_column)
        bands = ranged.join(readings, [feed.device_column, "day"]).select(*cassandra_tables.stored_columns(feed))
    else:
        bands = extract_readings.day_bands(spark, settings.cassandra, feed, keys, cores)
    bands.write.format("noop").mode("overwrite").save()
    keys.unpersist()
    return time.perf_counter() - started


REPEATS = 3


def median_read_seconds(spark, settings: Settings, day: date, through_dataframe: bool = False) -> float:  # noqa: ANN001
    return sorted(day_read_seconds(spark, settings, day, through_dataframe) for _ in range(REPEATS))[REPEATS // 2]


def timed_extract(spark, settings: Settings, day: date):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    record = extract_readings.extract_feed(spark, settings, feeds.METER_FEED, day)
    return record, time.perf_counter() - started


def median_extract(spark, settings: Settings, day: date):  # noqa: ANN001, ANN201
    """The record and the median time of REPEATS extracts of ``day``."""
    runs = sorted((timed_extract(spark, settings, day) for _ in range(REPEATS)), key=lambda run: run[1])
    return runs[REPEATS // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--scan-meters", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_settings("local")
    spark = spark_session(base, app_name="gridlake-bench-extract")
    day = START + timedelta(days=args.days - 1)

    with tempfile.TemporaryDirectory(prefix="gridlake-bench-") as scratch:
        work = Path(scratch)
        standard = seeded(base, "grid_bench_extract", args.meters, args.days, work / "lake")
        first, first_seconds = timed_extract(spark, standard, START)
        record, seconds = median_extract(spark, standard, day)
        steady, steady_seconds = median_extract(spark, standard, day)
        extract_rate, steady_rate = record.rows_written / seconds, steady.rows_written / steady_seconds
        read_rate = steady.rows_written / median_read_seconds(spark, standard, day)
        dataframe_read_rate = steady.rows_written / median_read_seconds(spark, standard, day, through_dataframe=True)
        scanned, scan_rate = token_range_scan_rate(standard)

        table = LakeTableRef(spark, standard.lake_root, BRONZE_METER_READINGS.path, standard.lake.format)
        in_memory = table.read_partition(day, BRONZE_METER_READINGS.spark_schema()).cache()
        rows = in_memory.count()
        rewrite = LakeTableRef(spark, str(work / "rewrite"), BRONZE_METER_READINGS.path, standard.lake.format)
        started = time.perf_counter()
        files = bronze_layout.file_count(rows, standard.lake.bytes_per_reading, standard.lake.target_file_mb * 2**20)
        rewrite.replace_partition(bronze_layout.lay_out(in_memory, "meter_id", files), day,
                                  stats_columns=bronze_layout.layout_columns("meter_id"))
        lake_write_rate = rows / (time.perf_counter() - started)

        arrow = pa.Table.from_batches(in_memory.drop("date")._collect_as_arrow())
        arrow = arrow.sort_by([("meter_id", "ascending"), ("ts", "ascending")])
        started = time.perf_counter()
        pq.write_table(arrow, work / "pyarrow.parquet", compression="zstd")
        arrow_rate = rows / (time.perf_counter() - started)
        pa_csv.write_csv(arrow, work / "raw.csv")
        csv_bytes = (work / "raw.csv").stat().st_size
        arrow_bytes = (work / "pyarrow.parquet").stat().st_size
        in_memory.unpersist()
        drop(standard)

        one_day = seeded(base, "grid_bench_scan_1", args.scan_meters, 1, work / "scan1")
        _, one_day_seconds = median_extract(spark, one_day, START)
        drop(one_day)
        fourteen = seeded(base, "grid_bench_scan_14", args.scan_meters, 14, work / "scan14")
        _, fourteen_seconds = median_extract(spark, fourteen, START)
        drop(fourteen)

    print(f"\nstandard set: {args.meters:,} meters x {args.days} days, format {base.lake.format}, ZSTD")
    print(f"extract (Cassandra -> bronze, one day of {record.rows_written:,} readings):")
    print(f"  cold, the session's first:        {first_seconds:5.1f} s = {first.rows_written / first_seconds:,.0f} readings/s")
    print(f"  rerun, median of the next {REPEATS}:     {seconds:5.1f} s = {extract_rate:,.0f} readings/s")
    print(f"  steady, median of {REPEATS} more:        {steady_seconds:5.1f} s = {steady_rate:,.0f} readings/s")
    print(f"the extract's read of the same day into the no-op sink, median of {REPEATS}: {read_rate:,.0f} readings/s; "
          f"ratio extract / read: rerun {extract_rate / read_rate:.2f}, steady {steady_rate / read_rate:.2f}")
    print(f"  the same read through the connector's DataFrame direct join: {dataframe_read_rate:,.0f} readings/s "
          f"(gridlake's row reader / it: {read_rate / dataframe_read_rate:.2f})")
    print(f"Cassandra token-range scan, Python driver (whole table, {scanned:,} rows): {scan_rate:,.0f} readings/s; "
          f"ratio extract / scan: rerun {extract_rate / scan_rate:.2f}, steady {steady_rate / scan_rate:.2f}")
    print(f"lake write of the same rows in memory:  {lake_write_rate:,.0f} readings/s")
    print(f"pyarrow write, same rows, ZSTD:          {arrow_rate:,.0f} readings/s")
    print(f"ratio lake write / pyarrow:              {lake_write_rate / arrow_rate:.2f}")
    print(f"on disk: {record.bytes / record.rows_written:.2f} bytes/reading in {record.files} file(s) per partition "
          f"(pyarrow one file: {arrow_bytes / rows:.2f}; raw CSV: {csv_bytes / rows:.1f} bytes/reading)")
    print(f"scan independence ({args.scan_meters:,} meters, medians of {REPEATS}): one day with 1 day stored {one_day_seconds:.1f} s, "
          f"with 14 days stored {fourteen_seconds:.1f} s, ratio {fourteen_seconds / one_day_seconds:.2f} (goal < 1.3)")


if __name__ == "__main__":
    main()
