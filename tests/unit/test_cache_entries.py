"""Which cache entries a day's gold rows make, and the documents they carry, when figures are
missing: a figure only when it is there, and no entry at all for a meter's day without a single
figure or a meter without a single hour's kWh."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession

from jobs.transforms.cache_entries import AREAS, cache_entries
from schemas import gold

DAY = date(2024, 10, 27)


#: Values of the columns the gold schemas do not let be null. Of them, only the areas' meter
#: counts (meter_count, meters_expected) are published figures: an area's day always has them.
REQUIRED = {"date": DAY, "timezone": "Europe/Brussels", "intervals": 96, "intervals_estimated": 0,
            "utc_offset_min": 120, "meter_count": 2, "meters_expected": 2}


def frame(spark: SparkSession, table, rows: list[dict]) -> DataFrame:  # noqa: ANN001
    """``rows`` as a frame of ``table``'s schema, its required columns filled from REQUIRED and
    every other column not given left null."""
    schema = table.spark_schema()
    required = {field.name for field in schema.fields if not field.nullable}
    def filled(row: dict) -> dict:
        return {name: row[name] if name in row else REQUIRED[name] if name in required else None
                for name in schema.names}
    return spark.createDataFrame([filled(row) for row in rows], schema)


def test_missing_figures_make_no_fields_and_a_day_without_any_makes_no_entry(spark: SparkSession) -> None:
    meter_daily = frame(spark, gold.METER_DAILY, [
        {"meter_id": "M-1", "feeder_id": "F-1", "region": "R-1", "kwh_import": Decimal("12.500"),
         "peak_at": datetime(2024, 10, 27, 17, 0)},
        {"meter_id": "M-2", "feeder_id": "F-1", "region": "R-1"},
    ])
    meter_hourly = frame(spark, gold.METER_HOURLY, [
        {"meter_id": "M-1", "hour_start": datetime(2024, 10, 26, 22, 0), "local_hour": 0,
         "kwh_import": Decimal("0.100")},
        {"meter_id": "M-1", "hour_start": datetime(2024, 10, 26, 23, 0), "local_hour": 1},
        {"meter_id": "M-2", "hour_start": datetime(2024, 10, 26, 22, 0), "local_hour": 0},
    ])
    tables = {level: table for level, _, table in AREAS}
    areas = {
        "feeder": frame(spark, tables["feeder"], [{"feeder_id": "F-1", "kwh_import": Decimal("12.500")}]),
        "substation": frame(spark, tables["substation"], []),
        "region": frame(spark, tables["region"], []),
    }

    entries = cache_entries(DAY, meter_daily, meter_hourly, areas, top_n=5).collect()

    made = sorted((row["family"], sorted(row["parts"].items()), json.loads(row["document"])) for row in entries)
    iso = DAY.isoformat()
    m1_day = {"meter_id": "M-1", "date": iso, "figures": {"kwh_import": "12.500", "peak_at": "2024-10-27T17:00:00"}}
    feeder = {"level": "feeder", "area_id": "F-1", "date": iso}
    assert made == sorted([
        ("meter_daily", [("date", iso), ("meter_id", "M-1")], m1_day),
        ("meter_latest", [("meter_id", "M-1")], m1_day),
        ("meter_hourly", [("date", iso), ("meter_id", "M-1")], {"meter_id": "M-1", "date": iso,
                                                                 "kwh_import": {"00": "0.100"}}),
        ("area_daily", [("area_id", "F-1"), ("date", iso), ("level", "feeder")],
         {**feeder, "figures": {"kwh_import": "12.500", "meter_count": "2", "meters_expected": "2"}}),
        ("area_top_consumers", [("area_id", "F-1"), ("date", iso), ("level", "feeder")],
         {**feeder, "meters": [{"meter_id": "M-1", "kwh_import": 12.5}]}),
        ("area_top_consumers", [("area_id", "R-1"), ("date", iso), ("level", "region")],
         {"level": "region", "area_id": "R-1", "date": iso, "meters": [{"meter_id": "M-1", "kwh_import": 12.5}]}),
    ], key=repr)


def test_top_consumers_are_listed_largest_first_ties_by_meter_id(spark: SparkSession) -> None:
    kwh = {"M-3": "4.000", "M-1": "9.500", "M-4": "9.500", "M-2": "1.000"}
    meter_daily = frame(spark, gold.METER_DAILY, [{"meter_id": meter, "feeder_id": "F-1", "region": "R-1",
                                                   "kwh_import": Decimal(value)} for meter, value in kwh.items()])
    areas = {level: frame(spark, table, []) for level, _, table in AREAS}
    entries = cache_entries(DAY, meter_daily, frame(spark, gold.METER_HOURLY, []), areas, top_n=3).collect()
    feeder_top = next(json.loads(row.document) for row in entries
                      if row.family == "area_top_consumers" and row.parts["level"] == "feeder")
    expected = sorted(kwh.items(), key=lambda item: (-float(item[1]), item[0]))[:3]
    assert feeder_top["meters"] == [{"meter_id": meter, "kwh_import": float(value)} for meter, value in expected]


def test_time_of_use_bands_and_the_month_to_date_are_entries_of_the_meter(spark: SparkSession) -> None:
    tou = frame(spark, gold.TOU_DAILY, [
        {"meter_id": "M-1", "tariff": "tou", "band": "peak", "kwh_import": Decimal("4.250"), "intervals": 16},
        {"meter_id": "M-1", "tariff": "tou", "band": "off_peak", "kwh_import": Decimal("8.125"), "intervals": 80},
        {"meter_id": "M-2", "tariff": "flat", "band": "flat", "kwh_import": None, "intervals": 0}])
    monthly = frame(spark, gold.METER_MONTHLY, [
        {"meter_id": "M-1", "date": date(2024, 10, 1), "month_end": date(2024, 10, 31),
         "kwh_import": Decimal("310.500"), "days_with_data": 27, "intervals": 2600}])
    none = frame(spark, gold.METER_DAILY, [])
    areas = {level: frame(spark, table, []) for level, _, table in AREAS}
    entries = cache_entries(DAY, none, frame(spark, gold.METER_HOURLY, []), areas, top_n=3, latest=False,
                            tou_daily=tou, meter_monthly=monthly).collect()
    by_family = {row.family: (row.parts, json.loads(row.document)) for row in entries}
    assert len(entries) == 2, "M-2's only band has no kWh: no entry"
    parts = {"meter_id": "M-1", "date": "2024-10-27"}
    assert by_family["meter_tou"] == (parts, {**parts, "kwh_import_by_band": {"off_peak": "8.125", "peak": "4.250"}})
    assert by_family["meter_month"] == (parts, {**parts, "figures": {"kwh_import": "310.500", "days_with_data": "27",
                                                                     "month": "2024-10"}})
