"""Build the search indices of one local date from the gold tables and the catalogue.

- ``meters``: one document per meter and grid sensor (ids, classes, location as geo_point,
  feeder, substation, region, tariff, a text description) with the meter's figures of the
  date (kWh, peak kW, voltage range, completeness);
- ``readings-daily``: one document per meter and day from gold ``meter_daily``, with the
  meter's class, feeder and location, in one index per month behind the alias.

Each is built as a new version beside the live one and swapped in with one ``_aliases`` call
(jobs/search_index.py). Documents are built in Spark and bulk-loaded from the driver with
elasticsearch-py's ``streaming_bulk`` over ``toLocalIterator``: one partition in memory at a
time, and on this 2-core machine the bulk, not Spark, is the limit.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.clients import elasticsearch_client
from jobs.config import Settings
from jobs.lake import LakeTableRef
from jobs.run_log import RunRecord, recorded_run
from jobs.search_index import DocumentId, VersionedIndex
from jobs.search_templates import apply_index_templates
from jobs.spark import cassandra_table, spark_session
from schemas.cassandra import METERS, SENSORS
from schemas.gold import METER_DAILY
from schemas.lake import PARTITION_COLUMN

log = logging.getLogger(__name__)

STAGE = "index"
SAMPLE_DOCUMENTS = 5
DAILY_FIGURES = ("kwh_import", "kwh_export", "peak_kw", "voltage_min_v", "voltage_max_v", "completeness")


def _location(lat: str = "lat", lon: str = "lon") -> F.Column:
    return F.when(F.col(lat).isNotNull() & F.col(lon).isNotNull(),
                  F.struct(F.col(lat).alias("lat"), F.col(lon).alias("lon")))


def meter_documents(meters: DataFrame, sensors: DataFrame, daily: DataFrame) -> DataFrame:
    """One search document per meter and sensor; meters carry their figures of the day."""
    figures = daily.select(
        "meter_id",
        F.struct(F.col(PARTITION_COLUMN).cast("string").alias("date"),
                 *[F.col(name).cast("double").alias(name) for name in DAILY_FIGURES]).alias("latest"),
    )
    meter_docs = meters.join(figures, "meter_id", "left").select(
        F.col("meter_id").alias("device_id"), F.lit("meter").alias("device_kind"), "meter_class", "tariff",
        "feeder_id", "substation_id", "region", "timezone", _location().alias("location"),
        F.col("address").alias("description"), F.col("nominal_voltage_v").cast("double").alias("nominal_voltage_v"),
        F.col("active_from").cast("string").alias("active_from"),
        F.col("active_to").cast("string").alias("active_to"), "latest",
    )
    sensor_docs = sensors.select(
        F.col("sensor_id").alias("device_id"), F.lit("sensor").alias("device_kind"),
        F.col("sensor_type").alias("meter_class"), F.lit(None).cast("string").alias("tariff"),
        "feeder_id", "substation_id", "region", "timezone", _location().alias("location"), "description",
        F.col("nominal_voltage_v").cast("double").alias("nominal_voltage_v"),
        F.col("active_from").cast("string").alias("active_from"),
        F.col("active_to").cast("string").alias("active_to"),
        F.lit(None).cast(figures.schema["latest"].dataType).alias("latest"),
    )
    return meter_docs.unionByName(sensor_docs)


def readings_daily_documents(daily: DataFrame, meters: DataFrame) -> DataFrame:
    """One search document per meter and day, with the meter's location for geo queries."""
    located = meters.select("meter_id", _location().alias("location"))
    return daily.join(located, "meter_id", "left").select(
        "meter_id", F.col(PARTITION_COLUMN).cast("string").alias("date"), "meter_class", "feeder_id",
        "substation_id", "region", "location",
        *[F.col(name).cast("double").alias(name) for name in (
            "kwh_import", "kwh_export", "peak_kw", "load_factor", "voltage_min_v", "voltage_mean_v",
            "voltage_max_v", "estimated_share", "completeness")],
        F.date_format("peak_at", "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("peak_at"),
    )


def _without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch treats a missing field and a null alike; leaving nulls out keeps documents
    small and makes the round-trip check exact."""
    return {k: (_without_nulls(v) if isinstance(v, dict) else v) for k, v in document.items() if v is not None}


def device_id(document: dict[str, Any]) -> str:
    return document["device_id"]


def meter_day_id(document: dict[str, Any]) -> str:
    return f"{document['meter_id']}/{document['date']}"


def build(family: VersionedIndex, frame: DataFrame, id_of: DocumentId) -> tuple[str, int]:
    """Build one new version of ``family`` from ``frame`` and swap it in."""
    count = frame.count()
    stream = (_without_nulls(row.asDict(recursive=True)) for row in frame.toLocalIterator())
    samples = {id_of(doc): doc for doc in (_without_nulls(row.asDict(recursive=True))
                                           for row in frame.limit(SAMPLE_DOCUMENTS).collect())}
    index = family.build(stream, id_of, expected_docs=count, samples=samples)
    return index, count


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Build ``meters`` and this month's member of ``readings-daily`` for ``run_date``."""
    spark = spark or spark_session(settings, app_name=f"gridlake-index-{run_date}")
    es = elasticsearch_client(settings)
    apply_index_templates(es)  # new versions take their mappings from the templates
    keyspace = settings.cassandra.keyspace
    catalogue = {table.name: cassandra_table(spark, keyspace, table.name) for table in (METERS, SENSORS)}
    gold = LakeTableRef(spark, settings.lake_root, METER_DAILY.path, settings.lake.format)
    month_start = run_date.replace(day=1)
    daily_month = gold.read(METER_DAILY.spark_schema()).where(
        (F.col(PARTITION_COLUMN) >= F.lit(month_start)) & (F.col(PARTITION_COLUMN) <= F.lit(run_date)))
    daily_today = daily_month.where(F.col(PARTITION_COLUMN) == F.lit(run_date))
    conf = settings.search
    records = []
    builds = (
        (VersionedIndex(es, "meters", "meters", conf.replicas, conf.keep_versions),
         meter_documents(catalogue["meters"], catalogue["sensors"], daily_today), device_id),
        (VersionedIndex(es, "readings-daily", f"readings-daily-{run_date:%Y-%m}", conf.replicas, conf.keep_versions),
         readings_daily_documents(daily_month, catalogue["meters"]), meter_day_id),
    )
    for family, frame, id_of in builds:
        with recorded_run(settings.lake_root, STAGE, family.base, run_date) as record:
            index, count = build(family, frame, id_of)
            record.rows_read = record.rows_written = count
            log.info("stage=index date=%s alias=%s index=%s docs=%d", run_date, family.alias, index, count)
        records.append(record)
    return records
