"""Compact bronze partitions: rewrite a date's small files into right-sized, device-sorted ones.

Delta uses its own OPTIMIZE with Z-ORDER by device (one atomic commit; the old files stay
for readers of older versions until VACUUM). Parquet and ORC are rewritten with the
extract's own layout and swapped in like any partition replace (jobs/stores/lake.py). Either way
the content is unchanged: the rows are counted before and after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.lake import LakeTableRef, PartitionFiles
from jobs.stores.runs import recorded_run
from jobs.transforms.bronze_layout import file_count, lay_out
from schemas.feeds import FEEDS, ReadingsFeed

log = logging.getLogger(__name__)

STAGE = "compact"


class CompactionError(RuntimeError):
    """Compaction changed a partition's row count: the content must never change."""


@dataclass(frozen=True)
class CompactionReport:
    table: str
    date: date
    before: PartitionFiles
    after: PartitionFiles
    rows: int


def compact_feed(spark: SparkSession, settings: Settings, feed: ReadingsFeed, day: date) -> CompactionReport:
    """Compact one table's partition of ``day`` and log the run in ``_runs``."""
    table = LakeTableRef(spark, settings.lake_root, feed.bronze.path, settings.lake.format)
    schema = feed.bronze.spark_schema()
    with recorded_run(settings.lake_root, STAGE, feed.bronze.path, day) as record:
        before = table.partition_files(day)
        record.rows_read = table.read_partition(day, schema).count()
        if before.files > 1:
            target_bytes = int(settings.lake.target_file_mb * 2**20)
            if settings.lake.format == "delta":
                spark.conf.set("spark.databricks.delta.optimize.maxFileSize", str(target_bytes))
                (DeltaTable.forPath(spark, table.location).optimize()
                 .where(f"date = '{day.isoformat()}'").executeZOrderBy(feed.device_column))
            else:
                files = file_count(record.rows_read, settings.lake.bytes_per_reading, target_bytes)
                table.replace_partition(lay_out(table.read_partition(day, schema), feed.device_column, files), day)
        after = table.partition_files(day)
        record.rows_written = table.read_partition(day, schema).count()
        record.files, record.bytes = after.files, after.bytes
        if record.rows_written != record.rows_read:
            raise CompactionError(f"{feed.bronze.path} date={day}: {record.rows_read} rows before compaction, "
                                  f"{record.rows_written} after")
    return CompactionReport(feed.bronze.path, day, before, after, record.rows_read)


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[CompactionReport]:
    """Compact ``run_date`` of every bronze table."""
    spark = spark or spark_session(settings, app_name=f"gridlake-compact-{run_date}")
    return [compact_feed(spark, settings, feed, run_date) for feed in FEEDS]
