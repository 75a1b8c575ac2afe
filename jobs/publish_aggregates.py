"""Publish one local date's gold figures into the Redis serving cache as a new version.

Entries follow schemas/cache_keys.py: per meter its day, its hours and its latest day; per
feeder, substation and region the day's totals; per feeder and region the day's top
consumers. The publish itself (jobs/cache_publish.py) writes them with their durable copies,
verifies the count and flips the pointer. Corrections go through the lake (rerun the date),
never straight into Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType
from pyspark.sql.window import Window

from jobs.cache_durable import DurableCopies
from jobs.cache_publish import CacheEntry, CachePublisher
from jobs.cache_writeback import WriteBehindQueue
from jobs.clients import cache_client, cassandra_session
from jobs.config import Settings
from jobs.lake import LakeTableRef
from jobs.run_log import RunRecord, recorded_run
from jobs.spark import spark_session
from schemas import cache_keys, gold
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


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def figures(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """Hash fields: the figures present, as text (timestamps ISO 8601, decimals exact)."""
    return {name: _text(row[name]) for name in names if row.get(name) is not None}


def hour_fields(hours: list[dict[str, Any]]) -> dict[str, str]:
    """A meter's kWh per local hour, ``{"00": "1.250", ...}``, in time order. The hour that the
    autumn DST change repeats appears twice: its second occurrence is ``"02b"``."""
    fields: dict[str, str] = {}
    for hour in sorted(hours, key=lambda h: h["hour_start"]):
        name = f"{hour['local_hour']:02d}"
        fields[name + "b" if name in fields else name] = _text(hour["kwh_import"])
    return fields


def top_consumers(meter_daily: DataFrame, area_column: str, top_n: int) -> DataFrame:
    """The ``top_n`` meters of each area by kWh imported that day (ties broken by meter id)."""
    rank = Window.partitionBy(area_column).orderBy(F.col("kwh_import").desc(), F.col("meter_id"))
    ranked = (meter_daily.where(F.col(area_column).isNotNull() & F.col("kwh_import").isNotNull())
              .withColumn("rank", F.row_number().over(rank)).where(F.col("rank") <= top_n))
    return ranked.groupBy(area_column).agg(F.map_from_entries(F.collect_list(
        F.struct("meter_id", F.col("kwh_import").cast("double")))).alias("scores"))


def decimals_as_text(frame: DataFrame, names: tuple[str, ...]) -> DataFrame:
    """``frame`` with those of ``names`` that are decimals cast to text in Spark (the same digits
    as Python's ``str(Decimal)``), so the driver receives strings instead of building a Decimal
    per figure; the other columns as they are."""
    decimals = {field.name for field in frame.schema.fields
                if field.name in names and isinstance(field.dataType, DecimalType)}
    return frame.select(*[F.col(name).cast("string").alias(name) if name in decimals else F.col(name)
                          for name in frame.columns])


def meter_hours(meter_hourly: DataFrame) -> DataFrame:
    """One row per meter: its hours of the day as a list of (hour_start, local_hour, kwh_import),
    grouped in Spark so that the driver gets one row per meter instead of one per hour."""
    return meter_hourly.groupBy("meter_id").agg(F.collect_list(F.struct(
        "hour_start", "local_hour", F.col("kwh_import").cast("string").alias("kwh_import"))).alias("hours"))


def cache_entries(day: date, meter_daily: DataFrame, meter_hourly: DataFrame, areas: dict[str, DataFrame],
                  top_n: int) -> Iterator[CacheEntry]:
    """Every cache entry of ``day``: the per-meter frames streamed a partition at a time (the next
    one fetched while this one is written), the small per-area frames (one row per feeder,
    substation or region) collected in one job each instead of one job per partition."""
    iso = day.isoformat()
    meters = decimals_as_text(meter_daily.select("meter_id", *METER_FIGURES), METER_FIGURES)
    for row in meters.toLocalIterator(prefetchPartitions=True):
        day_figures = figures(row.asDict(), METER_FIGURES)
        yield CacheEntry(cache_keys.METER_DAILY, {"meter_id": row.meter_id, "date": iso}, day_figures)
        yield CacheEntry(cache_keys.METER_LATEST, {"meter_id": row.meter_id}, {**day_figures, "date": iso})
    for row in meter_hours(meter_hourly).toLocalIterator(prefetchPartitions=True):
        yield CacheEntry(cache_keys.METER_HOURLY, {"meter_id": row.meter_id, "date": iso}, hour_fields(row.hours))
    for level, column, _ in AREAS:
        for row in decimals_as_text(areas[level], AREA_FIGURES).collect():
            yield CacheEntry(cache_keys.AREA_DAILY, {"level": level, "area_id": row[column], "date": iso},
                             figures(row.asDict(), AREA_FIGURES))
    for level, column in TOP_CONSUMER_AREAS:
        for row in top_consumers(meter_daily, column, top_n).collect():
            yield CacheEntry(cache_keys.AREA_TOP_CONSUMERS, {"level": level, "area_id": row[column], "date": iso},
                             dict(row.scores))


def _gold_day(spark: SparkSession, settings: Settings, table: LakeTable, day: date) -> DataFrame:
    ref = LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format)
    return ref.read_partition(day, table.spark_schema()).drop(PARTITION_COLUMN)


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Publish ``run_date``: write a new version (and its durable copies), verify, flip."""
    spark = spark or spark_session(settings, app_name=f"gridlake-publish-{run_date}")
    conf = settings.cache
    client = cache_client(settings)
    meter_daily = _gold_day(spark, settings, gold.METER_DAILY, run_date).cache()
    areas = {level: _gold_day(spark, settings, table, run_date) for level, _, table in AREAS}
    with cassandra_session(settings) as session, recorded_run(
            spark, settings.lake_root, settings.lake.format, STAGE, "redis", run_date) as record:
        durable = (WriteBehindQueue(client, conf.prefix) if conf.durable_mode == "write-behind"
                   else DurableCopies(session, settings.cassandra.keyspace, settings.cassandra.write_concurrency))
        publisher = CachePublisher(client, ttl_s=conf.ttl_days * 86400, grace_s=conf.grace_s,
                                   batch_size=conf.batch_size, prefix=conf.prefix, durable=durable,
                                   family_ttl_s={name: days * 86400 for name, days in conf.family_ttl_days.items()})
        entries = cache_entries(run_date, meter_daily, _gold_day(spark, settings, gold.METER_HOURLY, run_date),
                                areas, conf.top_consumers)
        version, written = publisher.publish(run_date, entries)
        record.rows_read = record.rows_written = written
        log.info("stage=publish date=%s version=%s keys=%d", run_date, version, written)
    meter_daily.unpersist()
    return [record]
