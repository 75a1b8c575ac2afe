"""Builders of small VEE inputs: a catalogue of a few meters on one feeder and their days of
quarter-hour readings in the lake's bronze and silver layouts (schemas/lake.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from schemas.lake import BRONZE_METER_READINGS, SILVER_METER_READINGS

ZONE = "Europe/Tirane"
INTERVAL_S = 900
#: A Wednesday; its like-day history is on the weekdays before it.
DAY = date(2024, 5, 8)
FEEDER = "FDR-0001"
METERS = ("m-1", "m-2", "m-3", "m-4")

CATALOGUE_SCHEMA = T.StructType([
    T.StructField("meter_id", T.StringType()), T.StructField("meter_class", T.StringType()),
    T.StructField("feeder_id", T.StringType()), T.StructField("timezone", T.StringType()),
    T.StructField("nominal_voltage_v", T.DecimalType(6, 1)), T.StructField("interval_s", T.IntegerType()),
    T.StructField("active_from", T.DateType()), T.StructField("active_to", T.DateType()),
    T.StructField("capacity_kw", T.DoubleType()),
])


def meter(meter_id: str, meter_class: str = "residential", active_from: date = date(2020, 1, 1),
          active_to: date | None = None, capacity_kw: float | None = None) -> dict:
    """A catalogue entry: 230 V, 15-minute intervals, on FEEDER, in Tirana's time zone; its
    connection rated as its class's unless ``capacity_kw`` says otherwise."""
    return {"meter_id": meter_id, "meter_class": meter_class, "feeder_id": FEEDER, "timezone": ZONE,
            "nominal_voltage_v": Decimal("230.0"), "interval_s": INTERVAL_S, "active_from": active_from,
            "active_to": active_to, "capacity_kw": capacity_kw}


def catalogue_frame(spark: SparkSession, meters: list[dict] | None = None) -> DataFrame:
    return spark.createDataFrame(meters if meters is not None else [meter(m) for m in METERS], CATALOGUE_SCHEMA)


def interval_start(day: date, k: int) -> datetime:
    """Naive UTC start of local interval ``k`` of ``day`` (as bronze stores ``ts``)."""
    midnight = datetime.combine(day, clock_time(0), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
    return (midnight + timedelta(seconds=k * INTERVAL_S)).replace(tzinfo=None)


def kwh(k: int) -> Decimal:
    """The clean import profile: 0.100 to 0.166 kWh, never two equal neighbours."""
    return Decimal(100 + 11 * (k % 7)).scaleb(-3)


def reading(meter_id: str, day: date, k: int, **values: object) -> dict:
    """One clean bronze row of interval ``k``, received 20 minutes after it starts; ``values``
    override any column."""
    ts = interval_start(day, k)
    row = {"meter_id": meter_id, "date": day, "ts": ts, "ingest_id": f"test:{meter_id}:{day}:{k}",
           "interval_s": INTERVAL_S, "kwh_import": kwh(k), "kwh_export": Decimal("0.000"),
           "kvarh": Decimal("0.030"), "voltage_v": Decimal("231.0"), "current_a": Decimal("1.80"),
           "power_factor": Decimal("0.950"), "source": "test", "received_at": ts + timedelta(minutes=20)}
    row.update(values)
    return row


def day_of_readings(meter_id: str, day: date = DAY, intervals: int = 96) -> list[dict]:
    return [reading(meter_id, day, k) for k in range(intervals)]


def clean_day(day: date = DAY) -> list[dict]:
    """A clean day of every meter in METERS."""
    return [row for meter_id in METERS for row in day_of_readings(meter_id, day)]


def bronze_frame(spark: SparkSession, rows: list[dict]) -> DataFrame:
    schema = BRONZE_METER_READINGS.spark_schema()
    return spark.createDataFrame([tuple(row.get(name) for name in schema.fieldNames()) for row in rows], schema)


def silver_frame(spark: SparkSession, rows: list[dict]) -> DataFrame:
    """Silver rows: bronze rows with ``status`` (default VALID), ``rule_id`` and ``ruleset_version``."""
    schema = SILVER_METER_READINGS.spark_schema()
    defaults = {"status": "VALID", "rule_id": "V00_passed", "ruleset_version": "test"}
    return spark.createDataFrame([tuple({**defaults, **row}.get(name) for name in schema.fieldNames())
                                  for row in rows], schema)
