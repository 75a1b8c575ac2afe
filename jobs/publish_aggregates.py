"""Publish one local date's gold figures into the Redis serving cache as a new version.

Entries follow schemas/cache_keys.py: per meter its day, its hours and its latest day; per
feeder, substation and region the day's totals; per feeder and region the day's top
consumers. They are built in Spark as rows (family, key parts, hash fields or zset scores),
given their Redis keys and TTLs (and, with write-behind, their durable copies as JSON) in Spark,
and written from the Spark partitions by the JVM's RedisEntryWriter (conf/spark/src, Jedis):
each task opens its own Redis client, writes pipelined batches (with write-behind, each followed
by its durable copies on the stream) and returns its count. It replaced Python tasks with
redis-py, which spent 1.8 times the client's own CPU per key turning Arrow rows into Python
objects and commands. With write-through, a second Spark job alongside writes the durable
copies from the same rows into Cassandra's ``cache_entries`` through the
spark-cassandra-connector. The driver only adds the counts, verifies the version, flips the
pointer and retires the old version (jobs/cache_publish.py). Corrections go through the lake (rerun the date), never
straight into Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import reduce
from itertools import chain
from operator import or_
from pathlib import Path
from string import Formatter

from py4j.java_gateway import JavaObject
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, TimestampNTZType, TimestampType
from pyspark.sql.window import Window

from jobs.cache_durable import DurableCopies
from jobs.cache_publish import CachePublisher, VersionWriter, version_day
from jobs.cache_writeback import stream_key
from jobs.clients import cache_client, cassandra_session
from jobs.config import Settings
from jobs.lake import LakeTableRef
from jobs.run_log import RunRecord, recorded_run
from jobs.spark import CASSANDRA_FORMAT, spark_session
from schemas import cache_keys, gold
from schemas.cache_keys import KEY_FAMILIES, KeyFamily
from schemas.cassandra import CACHE_BUCKETS, CACHE_ENTRIES
from schemas.lake import PARTITION_COLUMN, LakeTable

log = logging.getLogger(__name__)

STAGE = "publish"
METER_FIGURES = ("kwh_import", "kwh_export", "peak_kw", "peak_at", "load_factor", "voltage_min_v", "voltage_mean_v",
                 "voltage_max_v", "estimated_share", "completeness")
AREA_FIGURES = ("kwh_import", "kwh_export", "coincident_peak_kw", "coincident_peak_at", "meter_count",
                "meters_expected", "completeness")
#: (cache level, gold column, gold table) of the area rollups
AREAS = (("feeder", "feeder_id", gold.FEEDER_DAILY), ("substation", "substation_id", gold.SUBSTATION_DAILY),
         ("region", "region", gold.REGION_DAILY))
TOP_CONSUMER_AREAS = (("feeder", "feeder_id"), ("region", "region"))


_ISO_SECONDS = "yyyy-MM-dd'T'HH:mm:ss"
#: How the connector writes the durable copies: in unlogged batches of one ``cache_entries``
#: partition each (a month and bucket of one family, hundreds of rows of a day), up to 64 KiB
#: a batch. On the benchmark's 100,051 copies, half the time and a third of Cassandra's CPU of
#: one partition per meter grouped by replica (3.8-4.8 s against 1.7-2.2 s, here).
DURABLE_WRITE_OPTIONS = {"spark.cassandra.output.batch.grouping.key": "partition",
                         "spark.cassandra.output.batch.size.bytes": str(64 * 1024),
                         "spark.cassandra.output.concurrent.writes": "8"}


def as_text(column: str, data_type: DataType) -> Column:
    """A figure as the text the API reads: decimals with their exact digits, timestamps ISO 8601
    in the session time zone (UTC; a fraction only when there is one, like Python's isoformat),
    integers and dates as Spark casts them."""
    value = F.col(column)
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        return (F.when(F.date_format(value, "SSSSSS") == "000000", F.date_format(value, _ISO_SECONDS))
                .otherwise(F.date_format(value, _ISO_SECONDS + ".SSSSSS")))
    return value.cast("string")


def figures(frame: DataFrame, names: tuple[str, ...]) -> Column:
    """Hash fields of each row: those of ``names`` that are present, as text."""
    types = {field.name: field.dataType for field in frame.schema.fields}
    pairs = chain.from_iterable((F.lit(name), as_text(name, types[name])) for name in names)
    return F.map_filter(F.create_map(*pairs), lambda _, value: value.isNotNull())


def has_figures(names: tuple[str, ...]) -> Column:
    """Whether a row has any of ``names``: without one its entry would be an empty hash, which
    Redis does not store. Asked of the row's columns rather than of ``figures``' map, which a
    filter on it would make Spark build twice per row (for the filter and for the entry), and
    interpreted (map_filter has no generated code)."""
    return reduce(or_, (F.col(name).isNotNull() for name in names))


def _entry(family: KeyFamily, parts: dict[str, Column], fields: Column | None = None,
           scores: Column | None = None) -> list[Column]:
    """The columns of an entry row: ``family`` (its name), ``parts`` (the key parts), and its
    value as ``fields`` (hash fields, text) or ``scores`` (sorted-set scores), the other null."""
    return [F.lit(family.name).alias("family"),
            F.create_map(*chain.from_iterable((F.lit(name), part.cast("string")) for name, part in parts.items()))
            .alias("parts"),
            (fields if fields is not None else F.lit(None).cast("map<string,string>")).alias("fields"),
            (scores if scores is not None else F.lit(None).cast("map<string,double>")).alias("scores")]


def meter_day_entries(day: date, meter_daily: DataFrame, latest: bool = True) -> DataFrame:
    """Each meter's day and, when ``day`` is the newest published, its latest day (the same
    figures plus the date). The figures are made once per meter for both entries: a projection,
    then one row per entry (Spark does not inline a projection's map into the two entries that
    use it, which would make it twice)."""
    iso = F.lit(day.isoformat())
    meter = F.col("meter_id")
    if not latest:
        return meter_daily.where(has_figures(METER_FIGURES)).select(
            *_entry(cache_keys.METER_DAILY, {"meter_id": meter, "date": iso}, figures(meter_daily, METER_FIGURES)))
    daily = _entry(cache_keys.METER_DAILY, {"meter_id": meter, "date": iso}, F.col("figures"))
    latest_entry = _entry(cache_keys.METER_LATEST, {"meter_id": meter},
                          F.map_concat(F.col("figures"), F.create_map(F.lit("date"), iso)))
    with_figures = meter_daily.select("meter_id", figures(meter_daily, METER_FIGURES).alias("figures"))
    entries = with_figures.select(F.explode(F.array(
        F.when(F.size("figures") > 0, F.struct(*daily)), F.struct(*latest_entry))).alias("entry"))
    return entries.where(F.col("entry").isNotNull()).select("entry.*")


def meter_hour_entries(day: date, meter_hourly: DataFrame) -> DataFrame:
    """Each meter's kWh per local hour, ``{"00": "1.250", ...}``, hours without kWh left out. The
    hour that the autumn DST change repeats (right after itself, in time order) appears twice:
    its second occurrence is ``"02b"``."""
    in_time_order = Window.partitionBy("meter_id").orderBy("hour_start")
    hour = F.lpad(F.col("local_hour").cast("string"), 2, "0")
    repeated = F.coalesce(F.lag("local_hour").over(in_time_order) == F.col("local_hour"), F.lit(False))
    named = meter_hourly.select(
        "meter_id", F.concat(hour, F.when(repeated, F.lit("b")).otherwise(F.lit(""))).alias("hour"),
        F.col("kwh_import").cast("string").alias("kwh_import"))
    hours = (named.where(F.col("kwh_import").isNotNull()).groupBy("meter_id")
             .agg(F.map_from_entries(F.collect_list(F.struct("hour", "kwh_import"))).alias("hours")))
    parts = {"meter_id": F.col("meter_id"), "date": F.lit(day.isoformat())}
    return hours.select(*_entry(cache_keys.METER_HOURLY, parts, F.col("hours")))


def area_day_entries(day: date, areas: dict[str, DataFrame]) -> DataFrame:
    """Each feeder's, substation's and region's totals of the day."""
    frames = [areas[level].where(has_figures(AREA_FIGURES)).select(*_entry(cache_keys.AREA_DAILY, {
        "level": F.lit(level), "area_id": F.col(column), "date": F.lit(day.isoformat())},
        figures(areas[level], AREA_FIGURES))) for level, column, _ in AREAS]
    return frames[0].unionByName(frames[1]).unionByName(frames[2])


def top_consumers(meter_daily: DataFrame, area_column: str, top_n: int) -> DataFrame:
    """The ``top_n`` meters of each area by kWh imported that day (ties broken by meter id)."""
    rank = Window.partitionBy(area_column).orderBy(F.col("kwh_import").desc(), F.col("meter_id"))
    ranked = (meter_daily.where(F.col(area_column).isNotNull() & F.col("kwh_import").isNotNull())
              .withColumn("rank", F.row_number().over(rank)).where(F.col("rank") <= top_n))
    return ranked.groupBy(area_column).agg(F.map_from_entries(F.collect_list(
        F.struct("meter_id", F.col("kwh_import").cast("double")))).alias("scores"))


def cache_entries(day: date, meter_daily: DataFrame, meter_hourly: DataFrame, areas: dict[str, DataFrame],
                  top_n: int, latest: bool = True) -> DataFrame:
    """Every cache entry of ``day`` as entry rows (see ``_entry``), built in Spark. An entry needs a
    figure (Redis stores no empty hash): a meter's or an area's day without one, or a meter
    without a single hour's kWh, has none; ``meter_latest`` only if ``latest``."""
    iso = F.lit(day.isoformat())
    tops = [top_consumers(meter_daily, column, top_n).select(*_entry(
        cache_keys.AREA_TOP_CONSUMERS, {"level": F.lit(level), "area_id": F.col(column), "date": iso},
        scores=F.col("scores"))) for level, column in TOP_CONSUMER_AREAS]
    return (meter_day_entries(day, meter_daily, latest).unionByName(meter_hour_entries(day, meter_hourly))
            .unionByName(area_day_entries(day, areas)).unionByName(tops[0]).unionByName(tops[1]))


def redis_key(version: str, prefix: str) -> Column:
    """Each entry row's Redis key under ``version``: its family's pattern (schemas/cache_keys.py)
    filled from the row's parts in Spark, the same string as ``KeyFamily.key``."""
    def filled(family: KeyFamily) -> Column:
        pieces = []
        for literal, name, _, _ in Formatter().parse(family.pattern):
            pieces.append(F.lit(literal))
            if name is not None:
                pieces.append(F.lit({"prefix": prefix, "version": version}[name]) if name in ("prefix", "version")
                              else F.col("parts")[name])
        return F.concat(*pieces)
    return _per_family(filled)


def queued_copy() -> Column:
    """Each entry row's durable copy as the write-behind stream carries it (JSON of family, parts
    and value, as WriteBehindQueue writes it and jobs/cache_writeback.py reads it); null for a
    family without copies of its own (``has_durable_copy``)."""
    def copy(value: str) -> Column:
        return F.to_json(F.struct("family", "parts", F.col(value).alias("value")))
    return F.when(_has_durable_copy(), F.when(F.col("scores").isNull(), copy("fields")).otherwise(copy("scores")))


def _path(path: Path | None) -> str | None:
    return str(path) if path else None


def redis_writer(spark: SparkSession, settings: Settings, writer: VersionWriter, version: str) -> JavaObject:
    """The JVM's RedisEntryWriter (conf/spark/src) for ``version``, connected as jobs/clients.py
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


def write_from_partitions(entries: DataFrame, settings: Settings, writer: VersionWriter, version: str,
                          tasks: int) -> int:
    """Write every entry under ``version`` from ``tasks`` Spark partitions, each through the JVM's
    RedisEntryWriter, and return the keys written, added up from the tasks' counts. Keys, TTLs
    and (write-behind) durable copies are made here in Spark."""
    spark = entries.sparkSession
    ttl = _per_family(lambda family: F.lit(writer.family_ttl_s.get(family.name, writer.ttl_s)).cast("long"))
    copy = queued_copy() if settings.cache.durable_mode == "write-behind" else F.lit(None).cast("string")
    rows = entries.select(redis_key(version, writer.prefix).alias("key"), ttl.alias("ttl_s"), "fields", "scores",
                          copy.alias("copy")).coalesce(tasks)
    counts = rows._jdf.mapPartitions(redis_writer(spark, settings, writer, version),
                                     spark._jvm.org.apache.spark.sql.Encoders.LONG())
    return sum(counts.collectAsList())


def _per_family(column: Callable[[KeyFamily], Column]) -> Column:
    """``column(family)`` of each entry row's own family."""
    choice = None
    for family in KEY_FAMILIES:
        matches = F.col("family") == family.name
        choice = F.when(matches, column(family)) if choice is None else choice.when(matches, column(family))
    return choice


def _joined_parts(names: tuple[str, ...]) -> Column:
    return F.concat_ws(":", *(F.col("parts")[name] for name in names))


def _has_durable_copy() -> Column:
    return F.col("family").isin(*(family.name for family in KEY_FAMILIES if family.has_durable_copy))


def durable_rows(entries: DataFrame, version: str) -> DataFrame:
    """The ``cache_entries`` rows of entry rows published under ``version``: the Spark form of
    DurableCopies' rows (jobs/cache_durable.py), named by the family's ``durable_month``,
    ``durable_tag`` and ``durable_item`` (schemas/cache_keys.py) and the tag's ``cache_bucket``
    (schemas/cassandra.py), the value as JSON.

    No column holds the time of writing (Cassandra keeps it: ``WRITETIME(value)``). A
    ``current_timestamp()`` here became a literal in the stage's generated code, new with every
    publish: Spark compiled its projection again each time, and the JVM ran it interpreted and
    compiled it anew. Without it, write-through publishes alternating with it: Spark's CPU 5.9 s
    against 7.0, wall 6.5 s against 6.9."""
    value = F.when(F.col("scores").isNotNull(), F.to_json("scores")).otherwise(F.to_json("fields"))
    tagged = entries.where(_has_durable_copy()).select(
        "family", "parts", "scores", "fields", _per_family(lambda family: _joined_parts(family.tag_parts)).alias("tag"))
    return tagged.select(
        "family", F.substring(F.col("parts")["date"], 1, 7).alias("month"),
        (F.crc32(F.col("tag").cast("binary")) % CACHE_BUCKETS).cast("int").alias("bucket"), "tag",
        _per_family(lambda family: _joined_parts(family.item_parts)).alias("item"), F.lit(version).alias("version"),
        value.alias("value"))


def write_durable_copies(entries: DataFrame, settings: Settings, version: str, day: date, tasks: int) -> None:
    """Write-through: the durable copy of every entry of ``day`` into Cassandra's
    ``cache_entries`` through the connector (DURABLE_WRITE_OPTIONS) from ``tasks`` Spark
    partitions, its month noted first; a failed write fails the publish before the flip."""
    with cassandra_session(settings) as session:
        DurableCopies(session, settings.cassandra.keyspace).record_months(
            (family.name, family.durable_month({"date": day.isoformat()}))
            for family in KEY_FAMILIES if family.has_durable_copy)
    (durable_rows(entries, version).coalesce(tasks).write.format(CASSANDRA_FORMAT).mode("append")
     .options(keyspace=settings.cassandra.keyspace, table=CACHE_ENTRIES.name, **DURABLE_WRITE_OPTIONS).save())


def write_version(entries: DataFrame, settings: Settings, writer: VersionWriter, version: str) -> int:
    """Write every entry's key under ``version`` and its durable copy (queued behind from the
    tasks, or written through from the same rows, kept in memory, by a second Spark job
    alongside); return the keys written.

    Written through, the two jobs split the task slots (at least one each) so that they run
    side by side from the start: Spark's FIFO scheduler gave all slots to whichever job came
    first, and the Redis tasks waited for the Cassandra tasks. One task each against the
    cores' two, alternating in one session on the benchmark's 200,051 keys: 6.2 s against 6.9 s
    (medians of 10 and 9 publishes)."""
    cores = entries.sparkSession.sparkContext.defaultParallelism
    if settings.cache.durable_mode == "write-behind":
        return write_from_partitions(entries, settings, writer, version, tasks=cores)
    # Both jobs read the entries: made once and kept for the other. Each job making its own,
    # alternating in one session on the benchmark's 200,051 keys: 6.1 s against 5.2 s.
    entries, half = entries.persist(), max(1, cores // 2)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-copies") as alongside:
            copies = alongside.submit(write_durable_copies, entries, settings, version, version_day(version), half)
            written = write_from_partitions(entries, settings, writer, version, tasks=half)
            copies.result()
    finally:
        entries.unpersist()
    return written


def publish_day(settings: Settings, run_date: date, meter_daily: DataFrame, meter_hourly: DataFrame,
                areas: dict[str, DataFrame]) -> tuple[str, int]:
    """Publish ``run_date``'s gold frames: written from Spark partitions, then verified, flipped
    and the previous version retired; returns the new version and its keys."""
    conf = settings.cache
    publisher = CachePublisher(cache_client(settings), ttl_s=conf.ttl_days * 86400, grace_s=conf.grace_s,
                               batch_size=conf.batch_size, prefix=conf.prefix,
                               family_ttl_s={name: days * 86400 for name, days in conf.family_ttl_days.items()})
    entries = cache_entries(run_date, meter_daily, meter_hourly, areas, conf.top_consumers,
                            latest=publisher.is_newest(run_date))
    return publisher.publish_with(run_date, lambda version: write_version(entries, settings, publisher.writer, version))


def _gold_day(spark: SparkSession, settings: Settings, table: LakeTable, day: date) -> DataFrame:
    ref = LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format)
    return ref.read_partition(day, table.spark_schema()).drop(PARTITION_COLUMN)


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Publish ``run_date``: write a new version (and its durable copies), verify, flip."""
    spark = spark or spark_session(settings, app_name=f"gridlake-publish-{run_date}")
    meter_daily = _gold_day(spark, settings, gold.METER_DAILY, run_date).cache()
    areas = {level: _gold_day(spark, settings, table, run_date) for level, _, table in AREAS}
    with recorded_run(settings.lake_root, STAGE, "redis", run_date) as record:
        version, written = publish_day(settings, run_date, meter_daily,
                                       _gold_day(spark, settings, gold.METER_HOURLY, run_date), areas)
        record.rows_read = record.rows_written = written
        log.info("stage=publish date=%s version=%s mode=%s keys=%d", run_date, version,
                 settings.cache.durable_mode, written)
    meter_daily.unpersist()
    return [record]
