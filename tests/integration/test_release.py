"""A day's release against the real lake, Redis, Cassandra and Elasticsearch: the release stage
promotes a candidate that passes its checks, figures and search index together, and refuses
one that does not, leaving the live version served; abort then drops it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from pyspark.sql import SparkSession

from builders.vee import bronze_frame, clean_day
from jobs.stages import release
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, PublishError, configured_publisher
from jobs.stores.clients import cache_client, cassandra_session, elasticsearch_client
from jobs.stores.data_release import abort_release
from jobs.stores.lake import lake_table
from jobs.stores.search_indices import VersionedIndex
from jobs.runtime.config import Settings
from schemas.cache_keys import AREA_DAILY, day_pointer_key
from schemas.lake import BRONZE_METER_READINGS, SILVER_QUARANTINE
from schemas.search import candidate_alias, day_families

#: A day of its own month, so that its readings-daily index family is this test's alone.
DAY = date(2031, 3, 12)
PREFIX = "gridlake-release-test"


def region_day(kwh: str) -> list[CacheEntry]:
    parts = {"level": "region", "area_id": "R-1", "date": DAY.isoformat()}
    return [CacheEntry(AREA_DAILY, parts, AREA_DAILY.document(parts, {"kwh_import": kwh}))]


@pytest.fixture(scope="module")
def released(fresh_keyspace, spark: SparkSession) -> Iterator[Settings]:  # noqa: ANN001
    """A day in the lake (4 meters' bronze readings, 8 of them quarantined: 2%), its live
    figures in Redis, and this day's readings-daily index family ready to hold a candidate."""
    settings = fresh_keyspace("gridlake_release_test")
    settings.cache.prefix = PREFIX
    settings.release.mode = "candidate"
    bronze = clean_day(DAY)
    lake_table(spark, settings, BRONZE_METER_READINGS).replace_partition(bronze_frame(spark, bronze), DAY)
    quarantined = bronze_frame(spark, bronze[:8]).selectExpr(
        "*", "'impossible value' AS reason", "'V09_impossible' AS rule_id", "'test' AS ruleset_version")
    lake_table(spark, settings, SILVER_QUARANTINE).replace_partition(
        quarantined.select(*SILVER_QUARANTINE.names), DAY)
    client = cache_client(settings)
    configured_publisher(client, settings.cache).publish(DAY, region_day("1000.000"))
    yield settings
    for key in client.scan_iter(match=f"{PREFIX}:*"):
        client.delete(key)
    es = elasticsearch_client(settings)
    for name in es.indices.get(index=f"{day_families(DAY)[1][1]}-v*"):
        es.indices.delete(index=name)


def staged(settings: Settings, kwh: str) -> tuple[str, str]:
    """A candidate of the day: its figures in Redis and its readings-daily index."""
    version, _ = configured_publisher(cache_client(settings), settings.cache).publish(
        DAY, region_day(kwh), candidate=True)
    alias, base = day_families(DAY)[1]
    documents = [{"meter_id": "m-1", "date": DAY.isoformat(), "kwh_import": float(kwh)}]
    index = VersionedIndex(elasticsearch_client(settings), alias, base).build(
        documents, lambda doc: doc["meter_id"], expected_docs=1, samples={"m-1": documents[0]}, candidate=True)
    return version, index


def live_version(settings: Settings) -> str:
    return cache_client(settings).get(day_pointer_key(DAY.isoformat(), PREFIX)).decode()


def test_a_candidate_that_passes_goes_live_with_its_search_index(released: Settings, spark: SparkSession) -> None:
    version, index = staged(released, "1040.000")  # +4%: within the 10% of release.max_total_change

    [record] = release.main(released, DAY, spark)

    assert live_version(released) == version
    es = elasticsearch_client(released)
    assert index in es.indices.get_alias(name="readings-daily")
    assert not es.indices.exists_alias(name=candidate_alias("readings-daily"), index=index)
    with cassandra_session(released) as session:
        copy = DurableCopies(session, released.cassandra.keyspace).read(
            AREA_DAILY, {"level": "region", "area_id": "R-1", "date": DAY.isoformat()})
    assert json.loads(copy)["figures"] == {"kwh_import": "1040.000"}, "promoted with its durable copy"
    assert (record.status, record.rows_read, record.rows_written) == ("ok", 1, 1)


def test_a_candidate_beyond_a_threshold_is_refused_and_then_aborted(released: Settings,
                                                                     spark: SparkSession) -> None:
    live = live_version(released)
    version, index = staged(released, "2000.000")  # twice the live figures

    with pytest.raises(release.ReleaseRejected) as refused:
        release.main(released, DAY, spark)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{DAY}: not promoted: totals: ")
    assert live_version(released) == live, "the live version still serves the day"

    dropped = abort_release(released, DAY)
    assert (dropped.version, dropped.indices) == (version, [index])
    with pytest.raises(PublishError, match=f"{DAY}: no candidate version to abort"):
        abort_release(released, DAY)
