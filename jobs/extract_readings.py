"""Extract one local date of meter and sensor readings from Cassandra into the bronze lake.

The job touches only that date's Cassandra partitions: it reads the day's keys from the
``*_days`` index (a full partition-key restriction, ``day`` plus every bucket), then joins
them with the readings table through the connector's direct join (its ``CassandraJoinRDD``:
one partition query per key, never a table scan). Every received version of a reading
reaches bronze.

The rows are decoded by gridlake's own row reader (conf/spark/src, ``CassandraDayReader``)
instead of the connector's DataFrame conversion, which made a Java object and then a Spark
value of every column of every reading: 56% of the extract's task time in a profile. The join
itself, its concurrency and the queries are the connector's.

The bronze partition of the date is then replaced as a whole (jobs/lake.py), so a rerun
never appends a second copy and picks up late rows. The rows stream from Cassandra straight
into the lake writer, counted on the way (an observed metric): a cache of the day in between
cost more than the read itself. The rows written are the lake write's own figures.

Each Spark task reads one band of devices and writes it as one file, sorted by device and
time: the day's keys, not its readings, are range-partitioned before the join, so no reading
is shuffled. (Range-partitioning the joined readings, as before, read every reading from
Cassandra twice as soon as a day had more than one file: once for the range partitioner's
sample, once for the shuffle.) The number of files is estimated beforehand from the day's
devices times the readings per device-day (``day_files``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.clients import cassandra_session
from jobs.config import CassandraConf, GridConf, Settings
from jobs.lake import LakeTableRef
from jobs.run_log import RunRecord, recorded_run
from jobs.spark import cassandra_table, forget_cassandra_schema, spark_session
from schemas.cassandra import (DAY_BUCKETS, METER_DAYS, METER_READINGS, SENSOR_DAYS, SENSOR_READINGS, StoredChannel,
                               Table)
from schemas.lake import BRONZE_METER_READINGS, BRONZE_SENSOR_READINGS, PARTITION_COLUMN, Column, LakeTable

log = logging.getLogger(__name__)

STAGE = "extract"
#: The smallest file the extract splits a day into to keep every core reading (1 MiB): a
#: smaller day is read by fewer tasks rather than written as more small files.
MIN_SPLIT_BYTES = 2**20


class ExtractError(RuntimeError):
    """The extract could not read or write consistently; nothing partial was published."""


@dataclass(frozen=True)
class ReadingsFeed:
    """A Cassandra readings table, its day index, and the bronze table it feeds."""

    readings: Table
    days: Table
    bronze: LakeTable
    #: The GridConf field holding this feed's interval length in seconds.
    interval_setting: str

    @property
    def device_column(self) -> str:
        return self.readings.partition_key[0]

    def readings_per_day(self, grid: GridConf) -> int:
        """Readings of one device on an ordinary day (DST days differ by an hour's worth)."""
        return 86_400 // getattr(grid, self.interval_setting)


METER_FEED = ReadingsFeed(METER_READINGS, METER_DAYS, BRONZE_METER_READINGS, "meter_interval_s")
SENSOR_FEED = ReadingsFeed(SENSOR_READINGS, SENSOR_DAYS, BRONZE_SENSOR_READINGS, "sensor_interval_s")
FEEDS = (METER_FEED, SENSOR_FEED)


def day_keys(spark: SparkSession, keyspace: str, feed: ReadingsFeed, day: date) -> DataFrame:
    """The (device, day) partition keys that have readings on ``day``."""
    index = cassandra_table(spark, keyspace, feed.days.name)
    return (
        index.where((F.col("day") == F.lit(day)) & F.col("bucket").isin(list(range(DAY_BUCKETS))))
        .select(feed.device_column, "day")
    )


def read_day(spark: SparkSession, conf: CassandraConf, feed: ReadingsFeed, keys: DataFrame) -> DataFrame:
    """All stored readings of the day: its ``keys`` (device, day) joined directly with the
    readings table, as the Cassandra columns the bronze table is made of. Each Spark
    partition of ``keys`` reads its own devices' readings, keeping ``conf.read_concurrency``
    Cassandra partition reads in flight."""
    columns = stored_columns(feed)
    gateway = spark.sparkContext._gateway
    names = gateway.new_array(gateway.jvm.String, len(columns))
    for index, name in enumerate(columns):
        names[index] = name
    reader = gateway.jvm.org.gridlake.spark.CassandraDayReader
    return DataFrame(reader.join(keys._jdf, conf.keyspace, feed.readings.name, names, conf.read_concurrency), spark)


def stored_columns(feed: ReadingsFeed) -> list[str]:
    """The Cassandra columns a feed's bronze columns are read from: ``day`` for the lake's
    ``date``, a channel's stored steps for the channel, any other column by its own name (a
    column added to both tables later included)."""
    stored = {channel.name: channel.column for channel in feed.readings.channels}
    return [("day" if column.name == PARTITION_COLUMN else stored.get(column.name, column.name))
            for column in feed.bronze.columns]


def day_bands(spark: SparkSession, conf: CassandraConf, feed: ReadingsFeed, keys: DataFrame,
              files: int) -> DataFrame:
    """The day's bronze rows in ``files`` Spark partitions, each a band of devices: the keys
    are range-partitioned before the direct join, which keeps their partitions, so the
    readings are read once and never shuffled."""
    ranged = keys.repartitionByRange(files, feed.device_column)
    return to_bronze(read_day(spark, conf, feed, ranged), feed)


def laid_out_day(spark: SparkSession, conf: CassandraConf, feed: ReadingsFeed, keys: DataFrame,
                 files: int) -> DataFrame:
    """The day's bands (``day_bands``), each sorted by device and time."""
    return day_bands(spark, conf, feed, keys, files).sortWithinPartitions(*layout_columns(feed.device_column))


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


def extract_feed(spark: SparkSession, settings: Settings, feed: ReadingsFeed, day: date) -> RunRecord:
    """Replace ``day``'s bronze partition of one feed; check rows read == rows written."""
    target = LakeTableRef(spark, settings.lake_root, feed.bronze.path, settings.lake.format)
    keyspace = settings.cassandra.keyspace
    with recorded_run(settings.lake_root, STAGE, feed.bronze.path, day) as record:
        # Cached: counted here, then joined, with one read of the day index. (Counted uncached,
        # the connector pushes a count(*) over the index's 16 partitions down to Cassandra,
        # which warns about an aggregate across partitions in every extract's log.)
        keys = day_keys(spark, keyspace, feed, day).cache()
        try:
            expected_rows = keys.count() * feed.readings_per_day(settings.grid)
            files = day_files(expected_rows, settings.lake.bytes_per_reading, settings.lake.target_file_mb * 2**20,
                              spark.sparkContext.defaultParallelism)
            bronze = laid_out_day(spark, settings.cassandra, feed, keys, files)
            # One name per table and date: a backfill extracts several dates of a feed at once.
            received = Observation(f"{feed.bronze.path}-{day.isoformat()}-received")
            written = target.replace_partition(bronze.observe(received, F.count(F.lit(1)).alias("rows")), day,
                                               stats_columns=layout_columns(feed.device_column))
        finally:
            keys.unpersist()
        record.rows_read = received.get["rows"]
        record.rows_written, record.files, record.bytes = written.rows, written.files, written.bytes
        if record.rows_written != record.rows_read:
            raise ExtractError(f"{feed.bronze.path} date={day}: read {record.rows_read} rows from Cassandra "
                               f"but the lake write committed {record.rows_written}")
    return record


def require_cassandra(settings: Settings) -> None:
    """Fail fast, in one line, when Cassandra does not answer: before Spark touches the lake."""
    conf = settings.cassandra
    try:
        with cassandra_session(settings, timeout_s=10) as session:
            session.execute("SELECT release_version FROM system.local")
    except Exception as exc:  # noqa: BLE001 - the driver raises many kinds; all mean "unreachable"
        raise ExtractError(f"Cassandra at {','.join(conf.hosts)}:{conf.port} does not answer "
                           f"({type(exc).__name__}); nothing was extracted") from None


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Extract ``run_date`` for every feed (meters, then sensors)."""
    require_cassandra(settings)
    spark = spark or spark_session(settings, app_name=f"gridlake-extract-{run_date}")
    # A long-lived session (a backfill, a notebook, a test run) may hold the connector's view
    # of the schema from before a keyspace or table was created: read it afresh.
    forget_cassandra_schema(spark)
    return [extract_feed(spark, settings, feed, run_date) for feed in FEEDS]

