"""Cache entries reach a publish's Spark task as Arrow batches: they must come out as the rows were.
Their durable copies, made from the same rows in Spark, must be the rows DurableCopies writes."""

from __future__ import annotations

import json

import pyarrow as pa
from pyspark.sql import SparkSession

from jobs.cache_durable import DurableCopies
from jobs.cache_publish import FAMILIES, CacheEntry
from jobs.publish_aggregates import arrow_entries, durable_rows
from schemas.cache_keys import KEY_FAMILIES

TEXT_MAP = pa.map_(pa.string(), pa.string())
ENTRY_ROWS = pa.schema([("family", pa.string()), ("parts", TEXT_MAP), ("fields", TEXT_MAP),
                        ("scores", pa.map_(pa.string(), pa.float64()))])


def entry_batch() -> pa.RecordBatch:
    """Four entry rows as publish_aggregates.cache_entries makes them: hashes with fields and no
    scores, a sorted set with scores and no fields, and a hash without one of its figures."""
    return pa.RecordBatch.from_pylist([
        {"family": "meter_daily", "parts": [("meter_id", "M-1"), ("date", "2024-10-27")],
         "fields": [("kwh_import", "12.500"), ("peak_kw", "3.100")], "scores": None},
        {"family": "area_top_consumers", "parts": [("level", "feeder"), ("area_id", "F-1"), ("date", "2024-10-27")],
         "fields": None, "scores": [("M-1", 12.5), ("M-2", 7.25)]},
        {"family": "meter_latest", "parts": [("meter_id", "M-2")],
         "fields": [("kwh_import", "7.250"), ("date", "2024-10-27")], "scores": None},
        {"family": "meter_daily", "parts": [("meter_id", "M-3"), ("date", "2024-10-27")],
         "fields": [("peak_kw", "0.400")], "scores": None},
    ], schema=ENTRY_ROWS)


def as_rows_say(batch: pa.RecordBatch) -> list[CacheEntry]:
    """The entries written the plain way, from each row's Python values."""
    entries = []
    for row in batch.to_pylist():
        family = FAMILIES[row["family"]]
        value = row["scores"] if family.redis_type == "zset" else row["fields"]
        entries.append(CacheEntry(family, dict(row["parts"]), dict(value)))
    return entries


def test_entries_come_out_of_arrow_as_the_rows_hold_them() -> None:
    batch = entry_batch()
    assert list(arrow_entries([batch])) == as_rows_say(batch)
    assert list(arrow_entries([batch]))[1].value == {"M-1": 12.5, "M-2": 7.25}


def test_a_sliced_batch_gives_only_its_own_rows() -> None:
    # Arrow slices share their parent's values: the maps must still be cut at the slice's rows.
    middle = entry_batch().slice(1, 2)
    assert list(arrow_entries([middle])) == as_rows_say(middle)
    assert [entry.parts for entry in arrow_entries([middle])] == [
        {"level": "feeder", "area_id": "F-1", "date": "2024-10-27"}, {"meter_id": "M-2"}]


def test_a_batch_of_hashes_alone_gives_every_row() -> None:
    # Its scores column holds only nulls, which is converted without looking at the maps.
    hashes = entry_batch().filter(pa.array([True, False, True, True]))
    assert hashes.column("scores").null_count == len(hashes)
    assert list(arrow_entries([hashes])) == as_rows_say(hashes)


def test_durable_rows_made_in_spark_are_those_the_python_writer_makes(spark: SparkSession) -> None:
    rows = entry_batch().to_pylist() + [
        {"family": "meter_hourly", "parts": [("meter_id", "M-1"), ("date", "2024-10-27")],
         "fields": [("00", "0.100"), ("02b", "0.400")], "scores": None},
        {"family": "area_daily", "parts": [("level", "region"), ("area_id", "R-1"), ("date", "2024-10-27")],
         "fields": [("kwh_import", "42.345")], "scores": None}]
    assert {row["family"] for row in rows} == {family.name for family in KEY_FAMILIES}
    as_maps = [{name: dict(value) if isinstance(value, list) else value for name, value in row.items()}
               for row in rows]
    entries = spark.createDataFrame(as_maps, "family string, parts map<string,string>, "
                                             "fields map<string,string>, scores map<string,double>")
    made_in_spark = sorted((r.family, r.tag, r.item, r.version, json.loads(r.value))
                           for r in durable_rows(entries, "v-1").collect())
    python_rows = [DurableCopies._row(e.family, e.parts, "v-1", e.value)
                   for e in as_rows_say(pa.RecordBatch.from_pylist(rows, schema=ENTRY_ROWS))]
    written_one_by_one = sorted((family, tag, item, version, json.loads(value))
                                for family, tag, item, version, value, _ in python_rows)
    assert made_in_spark == written_one_by_one
    assert ("meter_latest", "M-2", "2024-10-27") in [row[:3] for row in made_in_spark]
    assert ("area_top_consumers", "feeder:F-1", "2024-10-27", "v-1", {"M-1": 12.5, "M-2": 7.25}) in made_in_spark
