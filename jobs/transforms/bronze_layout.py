"""How readings files are laid out in the lake: bronze columns from Cassandra's, and files cut
by device and sorted by time so reads can skip what they do not need."""

from __future__ import annotations

import math

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from schemas.cassandra import StoredChannel
from schemas.feeds import ReadingsFeed
from schemas.lake import PARTITION_COLUMN, Column

#: The smallest file the extract splits a day into to keep every core reading (1 MiB): a
#: smaller day is read by fewer tasks rather than written as more small files.
MIN_SPLIT_BYTES = 2**20


def to_bronze(readings: DataFrame, feed: ReadingsFeed) -> DataFrame:
    """Rename ``day`` to the lake's ``date``, turn each channel's stored steps back into its
    decimal, and narrow every other column to its storage type."""
    renamed = readings.withColumnRenamed("day", PARTITION_COLUMN)
    channels = {channel.name: channel for channel in feed.readings.channels}

    def bronze_column(column: Column) -> SparkColumn:
        channel = channels.get(column.name)
        if channel is None:
            return F.col(column.name).cast(column.spark_type())
        return decimal_of_steps(readings.sparkSession, F.col(channel.column), channel)

    return renamed.select([bronze_column(column).alias(column.name) for column in feed.bronze.columns])


def decimal_of_steps(spark: SparkSession, steps: SparkColumn, channel: StoredChannel) -> SparkColumn:
    """A channel's stored steps as its lake decimal, exactly: 1234 steps of 0.001 kWh is
    1.234 kWh, a decimal(10,3) whose unscaled value is 1234.

    Spark has no public function for this: a cast scales the integer up (1234.000), and a
    division by 1000 goes through a BigDecimal per value. Its optimizer's own ``MakeDecimal``
    sets the unscaled value directly, in generated code. Steps that do not fit the channel's
    decimal fail the job, never become a null.
    """
    make_decimal = spark._jvm.org.apache.spark.sql.catalyst.expressions.MakeDecimal(
        steps.cast("long")._jc.expr(), channel.precision, channel.scale, False)
    return SparkColumn(spark._jvm.org.apache.spark.sql.Column(make_decimal))


def file_count(rows: int, bytes_per_row: float, target_file_bytes: int) -> int:
    """Files for a partition so each is near the target size (never fewer than one)."""
    return max(1, math.ceil(rows * bytes_per_row / target_file_bytes))


def day_files(rows: int, bytes_per_row: float, target_file_bytes: int, cores: int) -> int:
    """Files of an extracted day: near the target size, but at least one per core while each
    still holds MIN_SPLIT_BYTES, since the extract reads each file's devices in one task."""
    by_cores = min(cores, max(1, math.floor(rows * bytes_per_row / MIN_SPLIT_BYTES)))
    return max(file_count(rows, bytes_per_row, target_file_bytes), by_cores)


def layout_columns(device_column: str) -> tuple[str, str]:
    """What readings files are cut on and sorted by: device, then time. Reads skip files on
    these, so they are also the only columns Delta keeps file statistics of."""
    return device_column, "ts"


def lay_out(frame: DataFrame, device_column: str, files: int) -> DataFrame:
    """Range-partition a lake frame by device into ``files`` files, sorted by device and time
    inside each, so a file covers a band of devices and reads can skip the rest. The ranges
    are cut on (device, ts), so one device's many rows can be split over files."""
    columns = layout_columns(device_column)
    return frame.repartitionByRange(files, *columns).sortWithinPartitions(*columns)
