"""Publishing gold figures into Redis: what the API then serves, hour by hour on a DST day."""

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pyspark.sql import SparkSession

from builders.cache import stored_value
from jobs.stages import publish as publish_aggregates
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import FAMILIES, configured_publisher
from jobs.stores.cache_read import CacheReader
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cache_client, cassandra_session
from jobs.runtime.config import Settings
from jobs.stores.lake import LakeTableRef
from schemas import cache_keys, gold
from schemas.cache_keys import KeyFamily
from schemas.lake import LakeTable

DAY = date(2024, 10, 27)  # Europe/Tirane falls back: 02:00-03:00 local happens twice
#: What the fixture's gold rows publish: two meter days and latest days, one meter's hours,
#: three area days, two top-consumer sets, one meter's time-of-use bands and month to date.
PUBLISHED_KEYS = 2 + 2 + 1 + 3 + 2 + 1 + 1


def rows(table: LakeTable, *values: dict) -> list[dict]:
    return [{**{name: None for name in table.names}, "date": DAY, **value} for value in values]


@pytest.fixture(scope="module", params=["single", "cluster"])
def published(request: pytest.FixtureRequest, services: Settings, spark: SparkSession,
              tmp_path_factory) -> Iterator[Settings]:
    settings = services.model_copy(deep=True)
    settings.cache.cluster = request.param == "cluster"
    settings.lake.root = str(tmp_path_factory.mktemp("publish-lake"))
    settings.cache.prefix = "gridlake-publish-test"
    settings.cache.top_consumers = 1
    daily = rows(gold.METER_DAILY,
                 {"meter_id": "M-1", "feeder_id": "F-1", "region": "R-1", "timezone": "Europe/Tirane",
                  "kwh_import": Decimal("12.345"), "peak_kw": Decimal("3.200"),
                  "peak_at": datetime(2024, 10, 27, 17, 45), "intervals": 100, "intervals_estimated": 2},
                 {"meter_id": "M-2", "feeder_id": "F-1", "region": "R-1", "timezone": "Europe/Tirane",
                  "kwh_import": Decimal("30.000"), "intervals": 100, "intervals_estimated": 0})
    # Local hours 00, 01, 02 (summer time, UTC+2), 02 again and 03 (winter time, UTC+1).
    hour_starts_utc = [datetime(2024, 10, 26, 22), datetime(2024, 10, 26, 23), datetime(2024, 10, 27, 0),
                       datetime(2024, 10, 27, 1), datetime(2024, 10, 27, 2)]
    hourly = rows(gold.METER_HOURLY, *[
        {"meter_id": "M-1", "hour_start": start, "local_hour": hour, "utc_offset_min": offset,
         "kwh_import": Decimal(f"0.{n + 1}00"), "intervals": 4, "intervals_estimated": 0}
        for n, (start, hour, offset) in enumerate(zip(hour_starts_utc, (0, 1, 2, 2, 3), (120, 120, 120, 60, 60)))])
    area = {"kwh_import": Decimal("42.345"), "meter_count": 2, "meters_expected": 2, "intervals": 200}
    frames = {gold.METER_DAILY: daily, gold.METER_HOURLY: hourly,
              gold.FEEDER_DAILY: rows(gold.FEEDER_DAILY, {"feeder_id": "F-1", **area}),
              gold.SUBSTATION_DAILY: rows(gold.SUBSTATION_DAILY, {"substation_id": "S-1", **area}),
              gold.REGION_DAILY: rows(gold.REGION_DAILY, {"region": "R-1", **area}),
              gold.TOU_DAILY: rows(gold.TOU_DAILY, *[
                  {"meter_id": "M-1", "tariff": "tou", "band": band, "kwh_import": Decimal(kwh), "intervals": n}
                  for band, kwh, n in (("peak", "4.345", 16), ("off_peak", "8.000", 84))])}
    month_start = DAY.replace(day=1)
    month = {gold.METER_MONTHLY: [{**row, "date": month_start} for row in rows(gold.METER_MONTHLY, {
        "meter_id": "M-1", "month_end": date(2024, 10, 31), "kwh_import": Decimal("301.500"), "days_with_data": 27,
        "intervals": 2600, "intervals_estimated": 4})]}
    for table, table_rows in {**frames, **month}.items():
        frame = spark.createDataFrame(table_rows, table.spark_schema())
        partition = month_start if table is gold.METER_MONTHLY else DAY
        LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format).replace_partition(frame, partition)
    with cassandra_session(settings) as session:
        apply_schema(session, settings)
    records = publish_aggregates.main(settings, DAY, spark)
    assert [(r.status, r.rows_written) for r in records] == [("ok", PUBLISHED_KEYS)]
    yield settings
    client = cache_client(settings)
    for key in client.scan_iter(match="gridlake-publish-test:*"):
        client.delete(key)


@pytest.fixture
def reader(published: Settings) -> Iterator[CacheReader]:
    with cassandra_session(published) as session:
        yield CacheReader(cache_client(published), DurableCopies(session, published.cassandra.keyspace),
                          ttl_s=3600, prefix=published.cache.prefix)


def read(reader: CacheReader, family: KeyFamily, **parts: str) -> Any:
    """The figures of an entry as the reader serves it."""
    return stored_value(family, reader.get(family, **parts))


def test_meter_day_is_served_as_published(reader: CacheReader) -> None:
    assert json.loads(reader.get_meter_daily("M-1", "2024-10-27")) == {"meter_id": "M-1", "date": "2024-10-27",
        "figures": {"kwh_import": "12.345", "peak_kw": "3.200", "peak_at": "2024-10-27T17:45:00"}}


def test_the_repeated_dst_hour_keeps_both_readings(reader: CacheReader) -> None:
    hours = read(reader, cache_keys.METER_HOURLY, meter_id="M-1", date="2024-10-27")
    assert list(hours.items()) == [("00", "0.100"), ("01", "0.200"), ("02", "0.300"), ("02b", "0.400"),
                                   ("03", "0.500")], "in the order of the day"


def test_top_consumer_and_area_totals(reader: CacheReader) -> None:
    assert read(reader, cache_keys.AREA_TOP_CONSUMERS, level="feeder", area_id="F-1", date="2024-10-27") == [
        {"meter_id": "M-2", "kwh_import": 30.0}]
    assert read(reader, cache_keys.AREA_DAILY, level="region", area_id="R-1", date="2024-10-27") == {
        "kwh_import": "42.345", "meter_count": "2", "meters_expected": "2"}


def test_time_of_use_and_the_month_to_date_are_published(reader: CacheReader) -> None:
    assert read(reader, cache_keys.METER_TOU, meter_id="M-1", date="2024-10-27") == {
        "peak": "4.345", "off_peak": "8.000"}
    assert read(reader, cache_keys.METER_MONTH, meter_id="M-1", date="2024-10-27") == {
        "kwh_import": "301.500", "days_with_data": "27", "month": "2024-10"}


def test_write_through_stores_the_durable_copies_of_this_version(published: Settings) -> None:
    """One durable copy per key of the live version, holding what Redis holds; meter_latest is
    each meter's newest meter_daily copy, and reads back as Redis holds it too."""
    client = cache_client(published)
    live = client.get(cache_keys.pointer_key(published.cache.prefix)).decode()
    with cassandra_session(published) as session:
        copies = session.execute(f"SELECT family, tag, item, value FROM {published.cassandra.keyspace}.cache_entries "
                                 "WHERE version = %s ALLOW FILTERING", (live,)).all()
    assert published.cache.durable_mode == "write-through"
    assert len(copies) == PUBLISHED_KEYS - 2, "as many copies as keys published, but the 2 meters' meter_latest"
    for copy in copies:
        family = FAMILIES[copy.family]
        parts = {**dict(zip(family.tag_parts, copy.tag.split(":"))), **dict(zip(family.item_parts, [copy.item]))}
        key = family.key(live, published.cache.prefix, **parts)
        assert copy.value.encode() == client.get(key), key
    hours = next(c.value for c in copies if (c.family, c.tag) == ("meter_hourly", "M-1"))
    assert stored_value(cache_keys.METER_HOURLY, hours) == {"00": "0.100", "01": "0.200", "02": "0.300",
                                                            "02b": "0.400", "03": "0.500"}
    with cassandra_session(published) as session:
        durable = DurableCopies(session, published.cassandra.keyspace)
        for meter in ("M-1", "M-2"):
            key = cache_keys.METER_LATEST.key(live, published.cache.prefix, meter_id=meter)
            assert durable.read(cache_keys.METER_LATEST, {"meter_id": meter}).encode() == client.get(key), key


def test_cache_get_reads_the_configured_redis(published: Settings) -> None:
    """`gridlake cache get` serves from the cluster when cache.cluster says so, as the jobs write
    (without the durable copy, so that a read of the wrong Redis cannot fall back to Cassandra)."""
    with cassandra_session(published) as session:
        session.execute(f"DELETE FROM {published.cassandra.keyspace}.cache_entries WHERE family = 'meter_daily' "
                        "AND month = '2024-10' AND bucket = %s AND tag = 'M-2' AND item = '2024-10-27'",
                        (zlib.crc32(b"M-2") % 256,))
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CACHE__PREFIX": published.cache.prefix,
           "GRIDLAKE_CACHE__CLUSTER": str(published.cache.cluster).lower(),
           "GRIDLAKE_CASSANDRA__KEYSPACE": published.cassandra.keyspace}
    done = subprocess.run([str(Path(sys.executable).parent / "gridlake"), "cache", "get", "--meter", "M-2",
                           "--date", "2024-10-27", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"meter_id": "M-2", "date": "2024-10-27", "figures": {"kwh_import": "30.000"}}


def test_a_candidate_publish_leaves_the_day_live_as_it_was_and_no_durable_copies(published: Settings,
                                                                                 spark: SparkSession) -> None:
    """release.mode candidate: the version is written and verified, the day's candidate
    pointer names it, the live pointers do not move, and Cassandra gets none of its copies (the
    promotion writes them)."""
    client = cache_client(published)
    live = client.get(cache_keys.day_pointer_key(DAY.isoformat(), published.cache.prefix))
    candidate_settings = published.model_copy(deep=True)
    candidate_settings.release.mode = "candidate"
    publish_aggregates.main(candidate_settings, DAY, spark)
    candidate = client.get(cache_keys.candidate_pointer_key(DAY.isoformat(), published.cache.prefix)).decode()
    try:
        assert client.get(cache_keys.day_pointer_key(DAY.isoformat(), published.cache.prefix)) == live
        assert sum(1 for _ in client.scan_iter(match=f"{published.cache.prefix}:{candidate}:*")) == PUBLISHED_KEYS
        with cassandra_session(published) as session:
            copies = session.execute(f"SELECT count(*) FROM {published.cassandra.keyspace}.cache_entries "
                                     "WHERE version = %s ALLOW FILTERING", (candidate,)).one()[0]
        assert copies == 0
    finally:
        configured_publisher(client, published.cache).abort(DAY)


def test_a_refused_write_fails_the_publish_before_the_flip(published: Settings, spark: SparkSession) -> None:
    """A write-behind publish as a user that may not append to the stream: the tasks' writer
    sees the error reply (a pipeline's sync alone would not), so the publish fails and the API
    stays on the version it served."""
    admin = cache_client(published)
    live_key = cache_keys.day_pointer_key(DAY.isoformat(), published.cache.prefix)
    live = admin.get(live_key)
    user, password = "gridlake-test-no-xadd", "no-xadd-secret"
    masters = ([admin.get_redis_connection(node) for node in admin.get_primaries()]
               if published.cache.cluster else [admin])
    refused = published.model_copy(deep=True)
    refused.cache.durable_mode = "write-behind"
    refused.redis.username, refused.redis.password = user, SecretStr(password)
    for master in masters:
        master.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["~*"], channels=["&*"],
                           commands=["+@all", "-xadd"])
    try:
        with pytest.raises(Exception, match="NOPERM"):
            publish_aggregates.main(refused, DAY, spark)
    finally:
        for master in masters:
            master.acl_deluser(user)
    assert admin.get(live_key) == live is not None
