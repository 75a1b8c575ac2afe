"""schemas/ is the single source of truth: its renderings agree with each other and with the engines."""

import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pytest
from pyspark.sql import types as T
from redis.crc import key_slot

from jobs.runtime.config import PROJECT_ROOT
from schemas import cache_keys, lake, search
from schemas.cassandra import METER_READINGS, TABLES, time_series_options


@pytest.mark.parametrize("table", [lake.BRONZE_METER_READINGS, lake.BRONZE_SENSOR_READINGS], ids=lambda t: t.path)
def test_spark_and_arrow_schemas_name_the_same_columns_and_precision(table: lake.LakeTable) -> None:
    spark_fields = table.spark_schema().fields
    arrow_fields = list(table.arrow_schema())
    assert [f.name for f in spark_fields] == [f.name for f in arrow_fields] == table.names
    for spark_field, arrow_field in zip(spark_fields, arrow_fields, strict=True):
        assert spark_field.nullable == arrow_field.nullable
        if isinstance(spark_field.dataType, T.DecimalType):
            assert (spark_field.dataType.precision, spark_field.dataType.scale) == (
                arrow_field.type.precision, arrow_field.type.scale)


def test_bronze_meter_readings_carry_every_cassandra_column() -> None:
    """Each Cassandra column by its lake name: ``day`` is ``date``, a channel's steps its value."""
    assert set(METER_READINGS.row_fields) - {"day"} | {lake.PARTITION_COLUMN} == set(lake.BRONZE_METER_READINGS.names)
    assert "kwh_import" in METER_READINGS.row_fields and "kwh_import_x1000" in METER_READINGS.columns


def test_energy_is_stored_at_watt_hour_resolution() -> None:
    kwh = {c.name: c.arrow_type() for c in lake.BRONZE_METER_READINGS.columns}["kwh_import"]
    assert kwh == pa.decimal128(10, 3)


def test_meter_readings_cql_keeps_every_received_version() -> None:
    cql = METER_READINGS.create_cql("grid", time_series_options(86400, "DAYS", 1))
    assert "PRIMARY KEY ((meter_id, day), ts, ingest_id)" in cql
    assert "'class': 'TimeWindowCompactionStrategy'" in cql and "default_time_to_live = 86400" in cql


def test_every_table_has_its_key_columns() -> None:
    for table in TABLES:
        assert set(table.partition_key + table.clustering) <= set(table.columns), table.name


def test_keys_of_one_meter_share_a_slot_and_meters_spread_over_slots() -> None:
    version = "20241015T0200"
    one_meter = {key_slot(family.key(version, meter_id="M-00042", date="2024-10-15").encode())
                 for family in (cache_keys.METER_DAILY, cache_keys.METER_HOURLY, cache_keys.METER_LATEST)}
    many_meters = {key_slot(cache_keys.METER_DAILY.key(version, meter_id=f"M-{n:05d}", date="2024-10-15").encode())
                   for n in range(200)}
    assert len(one_meter) == 1
    assert len(many_meters) > 150


def test_area_keys_are_tagged_by_area_not_version() -> None:
    daily = cache_keys.AREA_DAILY.key("v1", level="feeder", area_id="F-12", date="2024-10-15")
    top = cache_keys.AREA_TOP_CONSUMERS.key("v2", level="feeder", area_id="F-12", date="2024-10-15")
    assert daily == "gridlake:v1:area:{feeder:F-12}:daily:2024-10-15"
    assert key_slot(daily.encode()) == key_slot(top.encode()) == key_slot(b"feeder:F-12")


@pytest.mark.parametrize("alias", sorted(search.ALIASES))
def test_search_templates_are_strict_and_geo_mapped(alias: str) -> None:
    template = search.index_template(search.ALIASES[alias])
    mappings = template["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["properties"]["location"] == {"type": "geo_point"}


def test_a_meters_latest_is_read_from_its_daily_copies() -> None:
    """meter_latest keeps no durable rows: a miss reads the newest row of the meter's meter_daily
    partition, so both families must name the same partition."""
    latest, daily = cache_keys.METER_LATEST, cache_keys.METER_DAILY
    assert latest.newest_of is daily and not latest.has_durable_copy
    assert latest.durable_tag({"meter_id": "M-1"}) == daily.durable_tag({"meter_id": "M-1", "date": "2024-10-26"})
    assert daily.durable_item({"meter_id": "M-1", "date": "2024-10-26"}) == "2024-10-26"
    assert all(family.has_durable_copy for family in cache_keys.KEY_FAMILIES if family is not latest)


def test_channels_are_stored_as_whole_steps_of_their_resolution() -> None:
    columns = METER_READINGS.columns
    assert {name: columns[name] for name in columns if "_x" in name} == {
        "kwh_import_x1000": "bigint", "kwh_export_x1000": "bigint", "kvarh_x1000": "bigint",
        "voltage_v_x10": "int", "current_a_x100": "int", "power_factor_x1000": "int"}
    kwh = METER_READINGS.channels[0]
    assert [kwh.to_stored(Decimal(v)) for v in ("1.234", "1.2345", "-0.0005", "0.25")] == [1234, 1235, -1, 250]
    assert kwh.from_stored(1234) == Decimal("1.234")
    with pytest.raises(ValueError, match=r"kwh_import = 12345678\.9 does not fit decimal\(10,3\)"):
        kwh.to_stored(Decimal("12345678.9"))


def test_the_cassandra_model_and_the_cache_read_side_import_without_spark_or_arrow() -> None:
    """The serving API imports the read side (jobs/stores/cache_read.py) and with it the Cassandra
    model: neither may pull in Spark or Arrow, half a second and much memory per process."""
    check = ("import sys, jobs.stores.cache_read, schemas.cassandra; "
             "print(sorted({'pyspark', 'pyarrow'} & {name.split('.')[0] for name in sys.modules}))")
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                              cwd=PROJECT_ROOT).stdout.strip()
    assert imported == "[]"
