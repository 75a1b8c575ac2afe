"""Versioned publishes into the real Redis and Redis Cluster: flip, failure, retirement."""

import json
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from itertools import product

import pytest
import redis

from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, CachePublisher, PublishError, new_version
from jobs.stores.cache_read import CacheReader
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, redis_client, redis_cluster_client
from jobs.runtime.config import Settings
from schemas.cache_keys import AREA_TOP_CONSUMERS, METER_DAILY, METER_LATEST, day_pointer_key, pointer_key

PREFIX = "gridlake-test"
DAY = date(2024, 10, 27)


def meter_day(meter_id: str, day: date, **figures: float | str) -> CacheEntry:
    """A meter's day as a publish stores it: its document of ``figures``."""
    parts = {"meter_id": meter_id, "date": day.isoformat()}
    return CacheEntry(METER_DAILY, parts, METER_DAILY.document(parts, figures))


def meter_days(count: int, kwh: float) -> list[CacheEntry]:
    return [meter_day(f"M-{n:04d}", DAY, kwh_import=kwh + n, peak_kw=2.5) for n in range(count)]


def day_and_latest(meter_id: str, day: date, kwh: float | str) -> list[CacheEntry]:
    """A meter's day and, with the same document, its latest day."""
    daily = meter_day(meter_id, day, kwh_import=kwh)
    return [daily, CacheEntry(METER_LATEST, {"meter_id": meter_id}, daily.value)]


def figures(document: bytes | str | None) -> dict | None:
    """The figures of a stored document (None when there is none)."""
    return json.loads(document)["figures"] if document is not None else None


@pytest.fixture(params=["single", "cluster"])
def client(request: pytest.FixtureRequest, services: Settings) -> Iterator[redis.Redis]:
    connection = redis_client(services) if request.param == "single" else redis_cluster_client(services)
    yield connection
    for key in connection.scan_iter(match=f"{PREFIX}:*"):
        connection.delete(key)


def read_meter(client, meter_id: str, day: date = DAY) -> dict | None:
    """What the API does: the day's pointer, then the key of that version; its figures."""
    version = client.get(day_pointer_key(day.isoformat(), PREFIX)).decode()
    return figures(client.get(METER_DAILY.key(version, PREFIX, meter_id=meter_id, date=day.isoformat())))


def test_publish_flips_to_the_new_version_and_retires_the_old(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, batch_size=7, prefix=PREFIX)
    first, _ = publisher.publish(DAY, meter_days(20, kwh=1.0))
    assert read_meter(client, "M-0003") == {"kwh_import": 4.0, "peak_kw": 2.5}

    second, written = publisher.publish(DAY, meter_days(20, kwh=10.0))
    assert written == 20
    assert publisher.live_version() == second != first
    assert read_meter(client, "M-0003") == {"kwh_import": 13.0, "peak_kw": 2.5}
    old_keys = [METER_DAILY.key(first, PREFIX, meter_id=f"M-{n:04d}", date=DAY.isoformat()) for n in range(20)]
    new_keys = [METER_DAILY.key(second, PREFIX, meter_id=f"M-{n:04d}", date=DAY.isoformat()) for n in range(20)]
    assert all(0 < client.ttl(key) <= 60 for key in old_keys), "the old version lingers only for the grace period"
    assert all(client.ttl(key) > 60 for key in new_keys)


def test_retire_sets_the_grace_period_on_every_key_of_the_version_and_no_other(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, batch_size=50, prefix=PREFIX)
    old, kept = "v20241027-old", "v20241027-kept"
    publisher.write(old, meter_days(300, kwh=1.0))
    publisher.write(kept, meter_days(300, kwh=2.0))

    assert publisher.retire(old) == 300
    retired = [client.ttl(key) for key in publisher.keys_of(old)]
    untouched = [client.ttl(key) for key in publisher.keys_of(kept)]
    assert len(retired) == len(untouched) == 300
    assert all(0 < ttl <= 60 for ttl in retired) and all(ttl > 60 for ttl in untouched)


def test_a_failure_before_the_flip_keeps_the_api_on_the_old_version(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, batch_size=5, prefix=PREFIX)
    live, _ = publisher.publish(DAY, meter_days(10, kwh=1.0))

    def broken():
        yield from meter_days(7, kwh=99.0)
        raise OSError("gold table unreadable")

    with pytest.raises(OSError):
        publisher.publish(DAY, broken())
    assert publisher.live_version() == live
    assert read_meter(client, "M-0002") == {"kwh_import": 3.0, "peak_kw": 2.5}


def test_an_older_day_is_served_by_its_own_pointer_and_never_moves_the_latest_back(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, prefix=PREFIX)
    newest, _ = publisher.publish(DAY, day_and_latest("M-1", DAY, kwh=1.0))
    backfilled, written = publisher.publish(DAY - timedelta(days=1),
                                            day_and_latest("M-1", DAY - timedelta(days=1), kwh=5.0))

    assert written == 1, "an older day writes no meter_latest"
    assert client.get(pointer_key(PREFIX)).decode() == newest
    assert read_meter(client, "M-1") == {"kwh_import": 1.0}
    assert read_meter(client, "M-1", DAY - timedelta(days=1)) == {"kwh_import": 5.0}
    assert json.loads(client.get(METER_LATEST.key(newest, PREFIX, meter_id="M-1"))) == {
        "meter_id": "M-1", "date": DAY.isoformat(), "figures": {"kwh_import": 1.0}}
    assert client.ttl(METER_DAILY.key(newest, PREFIX, meter_id="M-1", date=DAY.isoformat())) > 60, \
        "the newest day's version stays: it is still its day's live version"
    assert 0 < client.ttl(day_pointer_key(DAY.isoformat(), PREFIX)) <= 3600, "a day's pointer goes with its keys"


def test_verify_refuses_an_incomplete_version(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, prefix=PREFIX)
    publisher.write("v-partial", meter_days(5, kwh=1.0))
    with pytest.raises(PublishError, match=r"v-partial: 5 keys stored, 6 expected"):
        publisher.verify("v-partial", 6)


def test_a_document_is_stored_as_its_bytes(client) -> None:
    parts = {"level": "feeder", "area_id": "F-12", "date": DAY.isoformat()}
    ranked = [{"meter_id": "M-2", "kwh_import": 30.25}, {"meter_id": "M-1", "kwh_import": 12.5}]
    document = AREA_TOP_CONSUMERS.document(parts, ranked)
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, prefix=PREFIX)
    version, _ = publisher.publish(DAY, [CacheEntry(AREA_TOP_CONSUMERS, parts, document)])
    stored = client.get(AREA_TOP_CONSUMERS.key(version, PREFIX, **parts))
    assert stored == document.encode()
    assert json.loads(stored) == {**parts, "meters": ranked}


class CountingDurableCopies(DurableCopies):
    """The real Cassandra table, counting the reads that reach it."""

    reads = 0

    def read(self, family, parts):  # noqa: ANN001, ANN201
        type(self).reads += 1
        return super().read(family, parts)


@pytest.fixture
def durable(services: Settings) -> Iterator[DurableCopies]:
    with cassandra_session(services) as session:
        apply_schema(session, services)
        CountingDurableCopies.reads = 0
        yield CountingDurableCopies(session, services.cassandra.keyspace)
        for meter, month in product(("M-0000", "M-0001", "M-0002"), ("2024-09", "2024-10")):
            session.execute(f"DELETE FROM {services.cassandra.keyspace}.cache_entries WHERE family = 'meter_daily' "
                            "AND month = %s AND bucket = %s AND tag = %s", (month, zlib.crc32(meter.encode()) % 256, meter))


def test_write_through_serves_a_miss_from_cassandra_once(client, durable) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, prefix=PREFIX, durable=durable)
    version, _ = publisher.publish(DAY, meter_days(3, kwh=1.5))
    reader = CacheReader(client, durable, ttl_s=3600, prefix=PREFIX)
    assert figures(reader.get_meter_daily("M-0001", DAY.isoformat())) == {"kwh_import": 2.5, "peak_kw": 2.5}
    assert CountingDurableCopies.reads == 0, "a hit never touches Cassandra"

    client.delete(METER_DAILY.key(version, PREFIX, meter_id="M-0002", date=DAY.isoformat()))  # evicted
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: reader.get_meter_daily("M-0002", DAY.isoformat()), range(32)))
    assert [figures(answer) for answer in answers] == [{"kwh_import": 3.5, "peak_kw": 2.5}] * 32
    assert CountingDurableCopies.reads == 1, "32 identical misses, one Cassandra read"
    assert reader.get_meter_daily("M-0999", DAY.isoformat()) is None


def test_a_miss_serves_the_newest_day_as_latest_whichever_publish_wrote_cassandra_last(client, durable) -> None:
    """Two publishes of different days that both began before either flipped both write
    meter_latest; the older one writes Cassandra last. Redis follows the newer day, and so must
    a miss served from Cassandra (the meter's newest meter_daily copy, with its date)."""
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, prefix=PREFIX, durable=durable)
    newer, _ = publisher.publish(DAY, day_and_latest("M-0000", DAY, "9.5"))
    older_day = DAY - timedelta(days=1)
    publisher.publish_with(older_day, lambda version: publisher.write(version, day_and_latest("M-0000", older_day,
                                                                                               "1.5")))
    assert client.get(pointer_key(PREFIX)).decode() == newer

    client.delete(METER_LATEST.key(newer, PREFIX, meter_id="M-0000"))  # evicted
    reader = CacheReader(client, durable, ttl_s=3600, prefix=PREFIX)
    assert json.loads(reader.get(METER_LATEST, meter_id="M-0000")) == {
        "meter_id": "M-0000", "date": DAY.isoformat(), "figures": {"kwh_import": "9.5"}}
    assert durable.read(METER_LATEST, {"meter_id": "M-0999"}) is None


def test_a_miss_of_the_latest_day_looks_back_month_by_month(durable) -> None:
    """The copies are partitioned by month: a meter's latest day is found in the newest month
    that holds one of its days, however far back that is."""
    september, october = date(2024, 9, 30), date(2024, 10, 27)
    durable.write(new_version(september), [meter_day("M-0001", september, kwh_import="4.5"),
                                  meter_day("M-0002", september, kwh_import="7.5")])
    durable.write(new_version(october), [meter_day("M-0001", october, kwh_import="9.5")])
    assert json.loads(durable.read(METER_LATEST, {"meter_id": "M-0001"})) == {
        "meter_id": "M-0001", "date": "2024-10-27", "figures": {"kwh_import": "9.5"}}
    assert json.loads(durable.read(METER_LATEST, {"meter_id": "M-0002"}))["date"] == "2024-09-30"
    assert durable.read(METER_LATEST, {"meter_id": "M-0003"}) is None
    assert figures(durable.read(METER_DAILY, {"meter_id": "M-0002", "date": "2024-09-30"})) == {"kwh_import": "7.5"}


def test_each_key_family_gets_its_configured_lifetime(client) -> None:
    publisher = CachePublisher(client, ttl_s=8 * 86400, grace_s=60, prefix=PREFIX,
                               family_ttl_s={"meter_latest": 2 * 86400})
    version, _ = publisher.publish(DAY, day_and_latest("M-1", DAY, kwh=1))
    daily_ttl = client.ttl(METER_DAILY.key(version, PREFIX, meter_id="M-1", date=DAY.isoformat()))
    latest_ttl = client.ttl(METER_LATEST.key(version, PREFIX, meter_id="M-1"))
    assert 8 * 86400 - 60 < daily_ttl <= 8 * 86400
    assert 2 * 86400 - 60 < latest_ttl <= 2 * 86400


def test_a_reader_during_publishes_sees_only_whole_versions(client) -> None:
    publisher = CachePublisher(client, ttl_s=3600, grace_s=60, batch_size=3, prefix=PREFIX)
    publisher.publish(DAY, meter_days(10, kwh=0.0))
    seen: list[tuple[dict | None, dict | None]] = []
    stop = threading.Event()

    def read_two_meters() -> None:
        """One API answer: the pointer once, then two meters of that version."""
        while not stop.is_set():
            version = client.get(day_pointer_key(DAY.isoformat(), PREFIX)).decode()
            first, last = (figures(client.get(METER_DAILY.key(version, PREFIX, meter_id=m, date=DAY.isoformat())))
                           for m in ("M-0000", "M-0009"))
            seen.append((first, last))

    reader = threading.Thread(target=read_two_meters)
    reader.start()
    try:
        for publish in range(1, 6):  # each publish sets every meter n to publish * 100 + n
            publisher.publish(DAY, meter_days(10, kwh=publish * 100.0))
    finally:
        stop.set()
        reader.join()
    assert seen
    for first, last in seen:
        assert first is not None and last is not None, "a reader never finds a key missing"
        assert last["kwh_import"] - first["kwh_import"] == 9, "both keys of one answer come from the same version"
