"""Cache entries reach a publish's Spark task as Arrow batches: they must come out as the rows were."""

from __future__ import annotations

import pyarrow as pa

from jobs.cache_publish import FAMILIES, CacheEntry
from jobs.publish_aggregates import arrow_entries

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
