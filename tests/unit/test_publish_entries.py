"""What a publish makes in Spark from its entry rows must be what the Python side makes of the
same entries: the Redis keys (KeyFamily.key), the write-behind stream's copies (WriteBehindQueue,
read back by queued_copies) and the durable rows (DurableCopies)."""

from __future__ import annotations

import json
import zlib

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import FAMILIES, CacheEntry
from jobs.stores.cache_writeback import queued_copies
from jobs.transforms.cache_entries import document, durable_rows, queued_copy, redis_key
from schemas.cache_keys import KEY_FAMILIES, METER_DAILY

#: One entry row of every family, as cache_entries makes them: the family, the key parts and
#: the JSON document (meter_latest's is the meter_daily document of its day).
ROWS = [
    {"family": "meter_daily", "parts": {"meter_id": "M-1", "date": "2024-10-27"},
     "document": METER_DAILY.document({"meter_id": "M-1", "date": "2024-10-27"},
                                      {"kwh_import": "12.500", "peak_kw": "3.100"})},
    {"family": "area_top_consumers", "parts": {"level": "feeder", "area_id": "F-1", "date": "2024-10-27"},
     "document": '{"level":"feeder","area_id":"F-1","date":"2024-10-27","meters":[{"meter_id":"M-1","kwh_import":12.5}]}'},
    {"family": "meter_latest", "parts": {"meter_id": "M-2"},
     "document": '{"meter_id":"M-2","date":"2024-10-27","figures":{"kwh_import":"7.250"}}'},
    {"family": "meter_hourly", "parts": {"meter_id": "M-1", "date": "2024-10-27"},
     "document": '{"meter_id":"M-1","date":"2024-10-27","kwh_import":{"00":"0.100","02b":"0.400"}}'},
    {"family": "area_daily", "parts": {"level": "region", "area_id": "R-1", "date": "2024-10-27"},
     "document": '{"level":"region","area_id":"R-1","date":"2024-10-27","figures":{"kwh_import":"42.345"}}'},
    {"family": "meter_tou", "parts": {"meter_id": "M-1", "date": "2024-10-27"},
     "document": '{"meter_id":"M-1","date":"2024-10-27","kwh_import_by_band":{"off_peak":"8.250","peak":"4.250"}}'},
    {"family": "meter_month", "parts": {"meter_id": "M-2", "date": "2024-10-27"},
     "document": '{"meter_id":"M-2","date":"2024-10-27","figures":{"kwh_import":"210.500","month":"2024-10"}}'},
]
ENTRY_ROW = "family string, parts map<string,string>, document string"


def as_entries() -> list[CacheEntry]:
    """The rows as the Python side holds them."""
    return [CacheEntry(FAMILIES[row["family"]], row["parts"], row["document"]) for row in ROWS]


@pytest.fixture(scope="module")
def entry_rows(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(ROWS, ENTRY_ROW)


def test_documents_made_in_spark_are_those_the_python_publish_makes(spark: SparkSession) -> None:
    """The same bytes either way, whichever publish wrote them: the API sends them as stored."""
    figures = {"kwh_import": "12.500", "peak_at": "2024-10-27T17:00:00"}
    frame = spark.createDataFrame([("M-1", figures)], "meter_id string, figures map<string,string>")
    parts = {"meter_id": F.col("meter_id"), "date": F.lit("2024-10-27")}
    made_in_spark = frame.select(document(METER_DAILY, parts, F.col("figures")).alias("body")).first().body
    assert made_in_spark == METER_DAILY.document({"meter_id": "M-1", "date": "2024-10-27"}, figures)
    assert json.loads(made_in_spark) == {"meter_id": "M-1", "date": "2024-10-27", "figures": figures}


def test_every_family_is_covered() -> None:
    assert {row["family"] for row in ROWS} == {family.name for family in KEY_FAMILIES}


def test_keys_made_in_spark_are_those_of_the_key_families(entry_rows: DataFrame) -> None:
    made_in_spark = [row.key for row in entry_rows.select(redis_key("v20241027-abc", "gl").alias("key")).collect()]
    assert made_in_spark == [e.family.key("v20241027-abc", "gl", **e.parts) for e in as_entries()]
    assert made_in_spark[0] == "gl:v20241027-abc:meter:{M-1}:daily:2024-10-27"


def test_copies_made_in_spark_read_back_as_the_entries(entry_rows: DataFrame) -> None:
    # The JVM writer joins a batch's copies into one JSON array, as WriteBehindQueue writes it.
    # meter_latest has no copy of its own (null): the writer leaves it out of the array.
    copies = [row.copy for row in entry_rows.select(queued_copy().alias("copy")).collect()]
    assert [family for family, copy in zip((row["family"] for row in ROWS), copies) if copy is None] == ["meter_latest"]
    stream_fields = {b"version": b"v-1", b"copies": ("[" + ",".join(filter(None, copies)) + "]").encode()}
    assert queued_copies(stream_fields) == ("v-1", [e for e in as_entries() if e.family.name != "meter_latest"])


def test_durable_rows_made_in_spark_are_those_the_python_writer_makes(entry_rows: DataFrame) -> None:
    made_in_spark = sorted(tuple(r) for r in durable_rows(entry_rows, "v-1").collect())
    written_one_by_one = sorted(DurableCopies._row(e.family, e.parts, "v-1", e.value) for e in as_entries()
                                if e.family.name != "meter_latest")
    assert made_in_spark == written_one_by_one
    assert len(made_in_spark) == len(ROWS) - 1, "every entry but meter_latest (read from meter_daily's copies)"
    feeder_bucket = zlib.crc32(b"feeder:F-1") % 256
    assert ("area_top_consumers", "2024-10", feeder_bucket, "feeder:F-1", "2024-10-27", "v-1",
            ROWS[1]["document"]) in made_in_spark


def test_durable_copies_of_one_meter_share_its_bucket_and_spread_over_buckets(spark: SparkSession) -> None:
    """A meter's copies of every day and family sit in one bucket (a miss is one partition
    read), and a day of many meters spreads over every bucket (the publish's batches)."""
    meters = [f"MTR-{n:07d}" for n in range(5000)]
    rows = [{"family": family, "parts": {"meter_id": meter, "date": day}, "document": "{}"}
            for meter in meters for family in ("meter_daily", "meter_hourly") for day in ("2024-10-27", "2024-11-01")]
    frame = spark.createDataFrame(rows, ENTRY_ROW)
    buckets = {(r.tag, r.bucket) for r in durable_rows(frame, "v-1").collect()}
    assert buckets == {(meter, zlib.crc32(meter.encode()) % 256) for meter in meters}
    assert len({bucket for _, bucket in buckets}) == 256
