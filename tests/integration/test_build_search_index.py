"""The index build from gold and the catalogue, then searches by radius, type, range and text."""

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.stages import index as build_search_index
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, elasticsearch_client
from jobs.runtime.config import Settings
from jobs.stores.lake import LakeTableRef
from jobs.stores.search_query import SearchRequest, search_query
from schemas.gold import METER_DAILY

KEYSPACE = "grid_index_test"
DAY = date(2024, 10, 27)
CENTRE = (41.3275, 19.8187)
# meter id, class, lat, lon, kWh of the day, address
METERS = [
    ("M-1", "commercial", 41.3300, 19.8200, "62.500", "Rruga Myslym Shyri 12"),   # ~0.3 km from the centre
    ("M-2", "commercial", 41.3400, 19.8300, "48.000", "Bulevardi Zogu I 4"),      # ~1.7 km
    ("M-3", "residential", 41.3280, 19.8190, "9.250", "Rruga e Durresit 7"),      # ~0.06 km
    ("M-4", "commercial", 41.4200, 19.9500, "75.000", "Rruga e Kavajes 90"),      # ~15 km: well outside
]
SENSOR_AT = (41.3290, 19.8195)  # the feeder head monitor PQ-FDR-01, ~0.18 km


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance, computed here independently of Elasticsearch."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def gold_row(meter_id: str, meter_class: str, kwh: str) -> dict:
    row = {name: None for name in METER_DAILY.names}
    row.update(meter_id=meter_id, date=DAY, meter_class=meter_class, feeder_id="FDR-01", timezone="Europe/Tirane",
               interval_s=900, kwh_import=Decimal(kwh), intervals=100, intervals_expected=100, intervals_estimated=0,
               completeness=Decimal("1.0000"))
    return row


@pytest.fixture(scope="module")
def indexed(services: Settings, spark: SparkSession, tmp_path_factory) -> Iterator[Settings]:
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = KEYSPACE
    settings.lake.root = str(tmp_path_factory.mktemp("index-lake"))
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
        for meter_id, meter_class, lat, lon, _, address in METERS:
            session.execute(f"INSERT INTO {KEYSPACE}.meters (meter_id, meter_class, lat, lon, address, feeder_id, "
                            "timezone) VALUES (%s, %s, %s, %s, %s, 'FDR-01', 'Europe/Tirane')",
                            (meter_id, meter_class, lat, lon, address))
        session.execute(f"INSERT INTO {KEYSPACE}.sensors (sensor_id, sensor_type, lat, lon, description, feeder_id) "
                        "VALUES ('PQ-FDR-01', 'feeder', %s, %s, 'feeder head monitor', 'FDR-01')", SENSOR_AT)
    gold = spark.createDataFrame([gold_row(m, c, k) for m, c, _, _, k, _ in METERS], METER_DAILY.spark_schema())
    LakeTableRef(spark, settings.lake_root, METER_DAILY.path, settings.lake.format).replace_partition(gold, DAY)
    build_search_index.main(settings, DAY, spark)
    yield settings
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")


def found(settings: Settings, request: SearchRequest) -> set[str]:
    alias, body = search_query(request)
    hits = elasticsearch_client(settings).search(index=alias, **body)["hits"]["hits"]
    return {hit["_source"].get("device_id") or hit["_source"]["meter_id"] for hit in hits}


def test_radius_type_and_range_find_exactly_the_expected_meters(indexed: Settings) -> None:
    within_2km = {m for m, _, lat, lon, _, _ in METERS if km_between(CENTRE, (lat, lon)) < 2.0}
    expected = {m for m, cls, _, _, kwh, _ in METERS if m in within_2km and cls == "commercial" and float(kwh) > 50}
    assert expected == {"M-1"}
    assert found(indexed, SearchRequest(near=CENTRE, radius="2km", device_type="commercial", kwh=(50.0, None))) \
        == expected


def test_radius_alone_finds_meters_and_the_sensor_inside(indexed: Settings) -> None:
    assert found(indexed, SearchRequest(near=CENTRE, radius="2km")) == {"M-1", "M-2", "M-3", "PQ-FDR-01"}


def test_a_search_near_a_point_lists_the_nearest_first(indexed: Settings) -> None:
    devices = {m: (lat, lon) for m, _, lat, lon, _, _ in METERS} | {"PQ-FDR-01": SENSOR_AT}
    nearest = sorted((km_between(CENTRE, at), device) for device, at in devices.items())[:3]
    alias, body = search_query(SearchRequest(near=CENTRE, radius="2km", limit=3))
    hits = elasticsearch_client(indexed).search(index=alias, **body)["hits"]["hits"]
    assert [hit["_source"]["device_id"] for hit in hits] == [device for _, device in nearest]
    assert [hit["sort"][-1] / 1000 for hit in hits] == pytest.approx([km for km, _ in nearest], rel=0.01)


def test_the_search_command_prints_the_distance_of_each_hit(indexed: Settings) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "gridlake"), "search", "--near", "41.3275,19.8187",
                           "--radius", "2km", "--type", "commercial", "--json"],
                          env={**os.environ, "GRIDLAKE_ENV": "test"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = sorted((km_between(CENTRE, (lat, lon)), m) for m, cls, lat, lon, _, _ in METERS
                      if cls == "commercial" and km_between(CENTRE, (lat, lon)) < 2.0)
    hits = json.loads(done.stdout)
    assert [hit["device_id"] for hit in hits] == [m for _, m in expected]
    assert [hit["distance_m"] for hit in hits] == pytest.approx([km * 1000 for km, _ in expected], abs=5)


def test_text_finds_the_street(indexed: Settings) -> None:
    assert found(indexed, SearchRequest(text="Myslym Shyri")) == {"M-1"}


def test_daily_readings_search_by_date_and_range(indexed: Settings) -> None:
    assert found(indexed, SearchRequest(day=DAY, kwh=(40.0, 70.0))) == {"M-1", "M-2"}


def test_the_build_is_logged_and_rebuilt_idempotently(indexed: Settings, spark: SparkSession) -> None:
    records = build_search_index.main(indexed, DAY, spark)
    assert [(r.table, r.rows_written, r.status) for r in records] == [
        ("meters", 5, "ok"), ("readings-daily-2024-10", 4, "ok")]
    assert elasticsearch_client(indexed).count(index="meters")["count"] == 5


def test_a_late_day_reindexed_keeps_the_months_later_days_and_the_meters_newest_day(
        indexed: Settings, spark: SparkSession) -> None:
    """The 17th arrives late, after the 27th was indexed: its re-index rebuilds the whole month
    and leaves each meter's latest day on the 27th. The 17th is removed again afterwards."""
    late = DAY - timedelta(days=10)
    gold = LakeTableRef(spark, indexed.lake_root, METER_DAILY.path, indexed.lake.format)
    rows = [{**gold_row(m, c, k), "date": late, "kwh_import": Decimal("1.000")} for m, c, _, _, k, _ in METERS]
    gold.replace_partition(spark.createDataFrame(rows, METER_DAILY.spark_schema()), late)
    es = elasticsearch_client(indexed)
    try:
        build_search_index.main(indexed, late, spark)
        es.indices.refresh(index="readings-daily")
        days = {hit["_source"]["date"] for hit in es.search(index="readings-daily", size=100)["hits"]["hits"]}
        assert days == {str(late), str(DAY)}
        es.indices.refresh(index="meters")
        latest = {hit["_source"]["latest"]["date"] for hit in es.search(index="meters", size=100)["hits"]["hits"]
                  if "latest" in hit["_source"]}
        assert latest == {str(DAY)}
    finally:
        gold.replace_partition(spark.createDataFrame([], METER_DAILY.spark_schema()), late)
        build_search_index.main(indexed, DAY, spark)
