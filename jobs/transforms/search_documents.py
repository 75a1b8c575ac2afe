"""The search documents of a date, as pure DataFrame functions, and their business keys.

- ``meters``: one document per meter and grid sensor (ids, classes, location as geo_point,
  feeder, substation, region, tariff, a text description) with the meter's figures of the
  date (kWh, peak kW, voltage range, completeness);
- ``readings-daily``: one document per meter and day from gold ``meter_daily``, with the
  meter's class, feeder and location.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.lake import PARTITION_COLUMN

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


def without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch treats a missing field and a null alike; leaving nulls out keeps documents
    small and makes the round-trip check exact."""
    return {k: (without_nulls(v) if isinstance(v, dict) else v) for k, v in document.items() if v is not None}


def device_id(document: dict[str, Any]) -> str:
    return document["device_id"]


def meter_day_id(document: dict[str, Any]) -> str:
    return f"{document['meter_id']}/{document['date']}"
