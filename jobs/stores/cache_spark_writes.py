"""The publish's writes from Spark partitions: entry rows into Redis through the JVM's
RedisEntryWriter (jvm/spark, Jedis), and durable copies into Cassandra's ``cache_entries``
through the Cassandra connector.

Each Redis task opens its own client, writes pipelined batches (with write-behind, each
followed by its durable copies on the stream) and returns its count; the driver only adds
the counts. Python tasks with redis-py spent 1.8 times the client's own CPU per key turning
Arrow rows into commands, hence the JVM writer.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from py4j.java_gateway import JavaObject
from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import Settings
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import VersionWriter, version_write_time
from jobs.stores.cache_writeback import stream_key
from jobs.stores.cassandra_tables import CASSANDRA_FORMAT
from jobs.stores.clients import cassandra_session
from schemas.cache_keys import KEY_FAMILIES
from schemas.cassandra import CACHE_ENTRIES

#: How the connector writes the durable copies: in unlogged batches of one ``cache_entries``
#: partition each (a month and bucket of one family, hundreds of rows of a day), up to 64 KiB
#: a batch: half the time and a third of Cassandra's CPU of one partition per meter grouped by
#: replica (docs/benchmarks.md, "Measurements behind design choices").
DURABLE_WRITE_OPTIONS = {"spark.cassandra.output.batch.grouping.key": "partition",
                         "spark.cassandra.output.batch.size.bytes": str(64 * 1024),
                         "spark.cassandra.output.concurrent.writes": "8"}


def _path(path: Path | None) -> str | None:
    return str(path) if path else None


def redis_writer(spark: SparkSession, settings: Settings, writer: VersionWriter, version: str) -> JavaObject:
    """The JVM's RedisEntryWriter (jvm/spark/src) for ``version``, connected as jobs/stores/clients.py
    connects: the configured single server or cluster, ACL user, TLS."""
    conf = settings.redis
    host, port, database = conf.server
    nodes = conf.cluster_nodes if settings.cache.cluster else [f"{host}:{port}"]
    stream = stream_key(settings.cache.prefix) if settings.cache.durable_mode == "write-behind" else None
    return spark._jvm.org.gridlake.spark.RedisEntryWriter(
        nodes, settings.cache.cluster, database, conf.username,
        conf.password.get_secret_value() if conf.password else None, int(conf.socket_timeout_s * 1000),
        conf.tls_on, _path(conf.tls.ca_file), _path(conf.tls.cert_file), _path(conf.tls.key_file),
        conf.tls.check_hostname, writer.batch_size, stream, version)


def write_redis_rows(rows: DataFrame, settings: Settings, writer: VersionWriter, version: str) -> int:
    """Write redis rows (key, ttl_s, fields, scores, copy: ``redis_rows`` of
    jobs/transforms/cache_entries.py) under ``version`` from each of their Spark partitions
    through the JVM's RedisEntryWriter; return the keys written, added up from the tasks' counts."""
    spark = rows.sparkSession
    counts = rows._jdf.mapPartitions(redis_writer(spark, settings, writer, version),
                                     spark._jvm.org.apache.spark.sql.Encoders.LONG())
    return sum(counts.collectAsList())


def write_durable_rows(rows: DataFrame, settings: Settings, day: date, version: str) -> None:
    """Write-through: ``cache_entries`` rows of ``day`` under ``version`` (``durable_rows`` of
    jobs/transforms/cache_entries.py) into Cassandra through the connector
    (DURABLE_WRITE_OPTIONS, with the version's write time) from each of their Spark partitions,
    the day's months noted first; a failed write fails the publish before the flip."""
    with cassandra_session(settings) as session:
        DurableCopies(session, settings.cassandra.keyspace).record_months(
            (family.name, family.durable_month({"date": day.isoformat()}))
            for family in KEY_FAMILIES if family.has_durable_copy)
    (rows.write.format(CASSANDRA_FORMAT).mode("append")
     .options(keyspace=settings.cassandra.keyspace, table=CACHE_ENTRIES.name, **DURABLE_WRITE_OPTIONS)
     .option("spark.cassandra.output.timestamp", str(version_write_time(version))).save())
