"""Cassandra tables read by Spark through the connector: the catalogue, a day's keys, and the
day's readings through gridlake's own row reader (jvm/spark, ``CassandraDayReader``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.config import CassandraConf, Settings
from jobs.stores.clients import cassandra_session
from schemas.cassandra import DAY_BUCKETS, METER_DAYS, SENSOR_DAYS, Table
from schemas.feeds import ReadingsFeed
from schemas.lake import PARTITION_COLUMN

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"


def forget_cassandra_schema(spark: SparkSession) -> None:
    """Drop the connector's cached Cassandra sessions, and with them its view of the schema.

    A long-lived session (a notebook, a test run, the stack check) that created or altered a
    table through the Python driver may otherwise not see it yet.
    """
    spark._jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()


def cassandra_table(spark: SparkSession, keyspace: str, table: str) -> DataFrame:
    """A Cassandra table through the connector, read whole or by pushed-down filters.

    Its direct join is off: in the connector's ``auto`` mode a join with a catalogue table
    would turn into a direct join by size estimates that Cassandra refreshes every few
    minutes, so the plan would change from one run to the next. The extract's direct join is
    its own (jobs/stages/extract.py).
    """
    return (spark.read.format(CASSANDRA_FORMAT)
            .options(keyspace=keyspace, table=table, directJoinSetting="off").load())


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


def read_catalogue(spark: SparkSession, keyspace: str, table: Table, columns: Sequence[str] | None = None) -> DataFrame:
    """A catalogue table (``meters``, ``sensors``) from Cassandra, whole or only ``columns``:
    one small row per device, read whole."""
    frame = cassandra_table(spark, keyspace, table.name)
    return frame.select(*columns) if columns else frame


def cassandra_written_at(settings: Settings) -> Callable[[date], datetime | None]:
    """When Cassandra last received readings for a local day (any meter or sensor), from the
    write times of the day's ``*_days`` index rows: every write of a device-day rewrites its
    row, late rows included."""
    buckets = ", ".join(str(bucket) for bucket in range(DAY_BUCKETS))

    def written_at(day: date) -> datetime | None:
        latest = None
        with cassandra_session(settings) as session:
            for table in (METER_DAYS, SENSOR_DAYS):
                rows = session.execute(
                    f"SELECT writetime(received_at) AS written FROM {settings.cassandra.keyspace}.{table.name} "
                    f"WHERE day = %s AND bucket IN ({buckets})", (day,))
                for row in rows:
                    if row.written is not None and (latest is None or row.written > latest):
                        latest = row.written
        return datetime.fromtimestamp(latest / 1e6, tz=timezone.utc) if latest is not None else None

    return written_at
