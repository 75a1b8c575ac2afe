"""Builders of small hand-written frames for the aggregates tests: silver intervals, bronze sensor
readings, the catalogue and gold meter_daily rows, each in its schema from schemas/."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.transforms.gold import catalogue_schema
from schemas import gold
from schemas.cassandra import METERS, SENSORS
from schemas.lake import BRONZE_SENSOR_READINGS, SILVER_METER_READINGS, LakeTable

TIRANE = "Europe/Tirane"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A collected timestamp (naive, in the Python process's zone) as an aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value.timestamp(), timezone.utc)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _frame(spark: SparkSession, table: LakeTable, rows: list[dict[str, Any]]) -> DataFrame:
    return spark.createDataFrame([{name: row.get(name) for name in table.names} for row in rows],
                                 table.spark_schema())


def interval(meter_id: str, day: date, ts: datetime, kwh_import: str | None, kwh_export: str | None = "0.000",
             voltage_v: str | None = None, status: str = "VALID", interval_s: int = 900) -> dict[str, Any]:
    """One silver interval (values as decimal strings)."""
    return {"meter_id": meter_id, "date": day, "ts": ts, "ingest_id": f"{meter_id}-{ts.isoformat()}",
            "interval_s": interval_s, "kwh_import": _dec(kwh_import), "kwh_export": _dec(kwh_export),
            "voltage_v": _dec(voltage_v), "source": "test", "received_at": ts, "status": status,
            "rule_id": None, "ruleset_version": "test-1"}


def quarter_hours(meter_id: str, day: date, first: datetime, count: int, kwh: str) -> list[dict[str, Any]]:
    """``count`` consecutive 15-minute intervals from ``first`` (UTC), each ``kwh``."""
    return [interval(meter_id, day, first + timedelta(minutes=15 * n), kwh) for n in range(count)]


def silver(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return _frame(spark, SILVER_METER_READINGS, rows)


def sensor_reading(sensor_id: str, day: date, ts: datetime, l1: str | None, l2: str | None = None,
                   l3: str | None = None, received_at: datetime | None = None, ingest_id: str = "a") -> dict[str, Any]:
    return {"sensor_id": sensor_id, "date": day, "ts": ts, "ingest_id": ingest_id, "interval_s": 600,
            "voltage_l1_v": _dec(l1), "voltage_l2_v": _dec(l2), "voltage_l3_v": _dec(l3), "source": "test",
            "received_at": received_at or ts}


def sensor_readings(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return _frame(spark, BRONZE_SENSOR_READINGS, rows)


def meter(meter_id: str, feeder_id: str, substation_id: str, region: str, tariff: str = "residential_flat",
          meter_class: str = "residential", active_from: date | None = None,
          active_to: date | None = None) -> dict[str, Any]:
    return {"meter_id": meter_id, "meter_class": meter_class, "tariff": tariff, "feeder_id": feeder_id,
            "substation_id": substation_id, "region": region, "timezone": TIRANE,
            "nominal_voltage_v": Decimal("230"), "interval_s": 900, "active_from": active_from,
            "active_to": active_to}


def meters(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    schema = catalogue_schema(METERS)
    return spark.createDataFrame([{name: row.get(name) for name in schema.fieldNames()} for row in rows], schema)


def sensor(sensor_id: str, feeder_id: str | None) -> dict[str, Any]:
    return {"sensor_id": sensor_id, "sensor_type": "transformer", "feeder_id": feeder_id, "substation_id": "S1",
            "region": "R1", "timezone": TIRANE, "nominal_voltage_v": Decimal("230"), "interval_s": 600}


def sensors(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    schema = catalogue_schema(SENSORS)
    return spark.createDataFrame([{name: row.get(name) for name in schema.fieldNames()} for row in rows], schema)


def meter_day(meter_id: str, day: date, kwh_import: str, completeness: str = "1.0000", feeder_id: str = "F1",
              **figures: Any) -> dict[str, Any]:
    """A gold meter_daily row; ``figures`` set any other column (decimals as strings)."""
    row: dict[str, Any] = {"meter_id": meter_id, "date": day, "feeder_id": feeder_id, "timezone": TIRANE,
                           "interval_s": 900, "kwh_import": Decimal(kwh_import), "intervals": 96,
                           "intervals_estimated": 0, "completeness": Decimal(completeness)}
    row.update({k: Decimal(v) if isinstance(v, str) else v for k, v in figures.items()})
    return row


def meter_daily(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return _frame(spark, gold.METER_DAILY, rows)
