"""Extract one local date of meter and sensor readings from Cassandra into the bronze lake.

The stage touches only that date's Cassandra partitions: it reads the day's keys from the
``*_days`` index (a full partition-key restriction, ``day`` plus every bucket), then reads
their readings through the connector's direct join, decoded by gridlake's own row reader
(jobs/stores/cassandra_tables.py): one partition query per key, never a table scan. Every
received version of a reading reaches bronze.

The keys, not the readings, are range-partitioned by device before the join, so each Spark
task reads one band of devices and writes it as one file sorted by device and time, and no
reading is shuffled. The rows stream from Cassandra straight into the lake writer, counted on
the way, and replace the date's bronze partition as a whole (jobs/stores/lake.py): a rerun
never appends a second copy and picks up late rows. Rows read must equal rows written. A day
Cassandra no longer holds never empties a partition that has rows, unless asked
(``lake.allow_empty_replace``, `--allow-empty`).
"""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.config import CassandraConf, Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import day_keys, forget_cassandra_schema, read_day
from jobs.stores.clients import cassandra_session
from jobs.stores.lake import LakeTableRef
from jobs.stores.runs import RunRecord, recorded_run
from jobs.transforms.bronze_layout import day_files, layout_columns, to_bronze
from schemas.feeds import FEEDS, ReadingsFeed

log = logging.getLogger(__name__)

STAGE = "extract"


class ExtractError(RuntimeError):
    """The extract could not read or write consistently; nothing partial was published."""


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
            devices = keys.count()
            if devices == 0 and not settings.lake.allow_empty_replace:
                refuse_to_empty(target, feed, day)
            expected_rows = devices * feed.readings_per_day(settings.grid)
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


def refuse_to_empty(target: LakeTableRef, feed: ReadingsFeed, day: date) -> None:
    """Fail, before anything is written, when Cassandra holds no device of ``day`` but the
    lake's partition has rows: replacing it would lose them (the day is past
    ``cassandra.raw_ttl_days``, or was deleted), and every later stage would follow."""
    stored = target.partition_files(day)
    if stored.files:
        raise ExtractError(f"{feed.bronze.path} date={day}: Cassandra holds no readings of the day (past "
                           f"cassandra.raw_ttl_days, or deleted) but the lake's partition has {stored.files} files "
                           f"({stored.bytes:,} bytes); kept as it is (--allow-empty replaces it with nothing)")


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

