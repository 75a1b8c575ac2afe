"""Publish one local date's gold figures into the Redis serving cache as a new version.

The entries (jobs/transforms/cache_entries.py) are built in Spark and written from the Spark
partitions (jobs/stores/cache_spark_writes.py); their durable copies go behind them on the
write-behind stream, or, written through, into Cassandra by a second Spark job alongside.
The driver then verifies the version, flips the pointer and retires the old version
(jobs/stores/cache_versions.py). Corrections go through the lake (rerun the date), never
straight into Redis.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cache_spark_writes import write_durable_rows, write_redis_rows
from jobs.stores.cache_versions import VersionWriter, configured_publisher, version_day
from jobs.stores.clients import cache_client
from jobs.stores.lake import lake_table
from jobs.stores.runs import RunRecord, recorded_run
from jobs.transforms.cache_entries import AREAS, cache_entries, durable_rows, redis_rows
from schemas import gold
from schemas.lake import PARTITION_COLUMN, LakeTable

log = logging.getLogger(__name__)

STAGE = "publish"


def write_from_partitions(entries: DataFrame, settings: Settings, writer: VersionWriter, version: str,
                          tasks: int, queued: bool) -> int:
    """Write every entry under ``version`` from ``tasks`` Spark partitions, with their durable
    copies ``queued`` on the write-behind stream or not; return the keys written."""
    rows = redis_rows(entries, version, writer.prefix, writer.ttl_s, writer.family_ttl_s, queued)
    return write_redis_rows(rows.coalesce(tasks), settings, writer, version)


def write_durable_copies(entries: DataFrame, settings: Settings, version: str, day: date, tasks: int) -> None:
    """Write-through: the durable copy of every entry of ``day`` into Cassandra from ``tasks`` Spark partitions."""
    write_durable_rows(durable_rows(entries, version).coalesce(tasks), settings, day, version)


def write_version(entries: DataFrame, settings: Settings, writer: VersionWriter, version: str) -> int:
    """Write every entry's key under ``version`` and its durable copy (queued behind from the
    tasks, or written through from the same rows, kept in memory, by a second Spark job
    alongside); return the keys written.

    Written through, the two jobs split the task slots (at least one each) so that they run
    side by side from the start: Spark's FIFO scheduler gave all slots to whichever job came
    first, and the Redis tasks waited for the Cassandra tasks."""
    cores = entries.sparkSession.sparkContext.defaultParallelism
    if settings.release.mode == "candidate":  # its copies are written when it is promoted
        return write_from_partitions(entries, settings, writer, version, tasks=cores, queued=False)
    if settings.cache.durable_mode == "write-behind":
        return write_from_partitions(entries, settings, writer, version, tasks=cores, queued=True)
    # Both jobs read the entries: made once and kept for the other (cheaper than each making its own).
    entries, half = entries.persist(), max(1, cores // 2)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-copies") as alongside:
            copies = alongside.submit(write_durable_copies, entries, settings, version, version_day(version), half)
            written = write_from_partitions(entries, settings, writer, version, tasks=half, queued=False)
            copies.result()
    finally:
        entries.unpersist()
    return written


def publish_day(settings: Settings, run_date: date, meter_daily: DataFrame, meter_hourly: DataFrame,
                areas: dict[str, DataFrame], tou_daily: DataFrame | None = None,
                meter_monthly: DataFrame | None = None) -> tuple[str, int]:
    """Publish ``run_date``'s gold frames: written from Spark partitions, then verified, flipped
    and the previous version retired (or, with ``release.mode: candidate``, left a candidate);
    returns the new version and its keys."""
    conf = settings.cache
    publisher = configured_publisher(cache_client(settings), conf)
    entries = cache_entries(run_date, meter_daily, meter_hourly, areas, conf.top_consumers,
                            latest=publisher.is_newest(run_date), tou_daily=tou_daily, meter_monthly=meter_monthly)
    return publisher.publish_with(run_date, lambda version: write_version(entries, settings, publisher.writer, version),
                                  candidate=settings.release.mode == "candidate")


def _gold_day(spark: SparkSession, settings: Settings, table: LakeTable, day: date) -> DataFrame:
    ref = lake_table(spark, settings, table)
    return ref.read_partition(day, table.spark_schema()).drop(PARTITION_COLUMN)


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Publish ``run_date``: write a new version (and its durable copies), verify, flip."""
    spark = spark or spark_session(settings, app_name=f"gridlake-publish-{run_date}")
    meter_daily = _gold_day(spark, settings, gold.METER_DAILY, run_date).cache()
    areas = {level: _gold_day(spark, settings, table, run_date) for level, _, table in AREAS}
    with recorded_run(settings.lake_root, STAGE, "redis", run_date) as record:
        version, written = publish_day(
            settings, run_date, meter_daily, _gold_day(spark, settings, gold.METER_HOURLY, run_date), areas,
            tou_daily=_gold_day(spark, settings, gold.TOU_DAILY, run_date),
            # The month to date: meter_monthly's partition is the 1st of the month.
            meter_monthly=_gold_day(spark, settings, gold.METER_MONTHLY, run_date.replace(day=1)))
        record.rows_read = record.rows_written = written
        log.info("stage=publish date=%s version=%s mode=%s keys=%d", run_date, version,
                 settings.cache.durable_mode, written)
    meter_daily.unpersist()
    return [record]
