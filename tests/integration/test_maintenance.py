"""The weekly housekeeping against the real stores: `_runs` pruning, stale
search index versions, Redis versions that are not live."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pyspark.sql import SparkSession

from jobs.stores.cache_versions import CacheEntry, CachePublisher
from jobs.pipeline.airflow_tasks import REDIS_CONN_ID, connections, expire_stale_cache_versions_via_provider
from jobs.stores.clients import elasticsearch_client, redis_client, redis_cluster_client
from jobs.runtime.config import Settings
from jobs.stages.housekeeping import expire_stale_cache_versions, prune_runs, prune_search_versions
from jobs.stores.runs import RUNS_PATH, RunRecord, append_runs
from jobs.stores.search_indices import VersionedIndex
from schemas.cache_keys import METER_DAILY, candidate_pointer_key, day_pointer_key, pointer_key, publishing_key

TODAY = date(2026, 11, 29)


def test_runs_older_than_the_retention_are_pruned(services: Settings, spark: SparkSession, tmp_path) -> None:
    settings = services.model_copy(deep=True)
    settings.lake.root = str(tmp_path)
    retention = settings.maintenance.runs_retention_days
    days = [TODAY - timedelta(days=retention + 30), TODAY - timedelta(days=retention + 1),
            TODAY - timedelta(days=retention), TODAY - timedelta(days=2)]
    append_runs(settings.lake_root,
                [RunRecord(stage="extract", table="t", date=day, started_at=datetime.now(timezone.utc)) for day in days])
    assert prune_runs(settings, TODAY) == 2
    kept = spark.read.format("delta").load(f"{settings.lake_root}/{RUNS_PATH}").collect()
    assert sorted(row.date for row in kept) == days[2:]
    assert prune_runs(settings, TODAY) == 0


def delete_test_indices(es) -> None:  # noqa: ANN001 - an Elasticsearch client
    """Drop this test's indices by name (Elasticsearch refuses wildcard deletes)."""
    for name in es.indices.get(index="maint-test-v*", ignore_unavailable=True, allow_no_indices=True):
        es.indices.delete(index=name)


def test_failed_and_surplus_index_versions_go_but_never_the_live_one(services: Settings) -> None:
    es = elasticsearch_client(services)
    delete_test_indices(es)
    family = VersionedIndex(es, "maint-test", "maint-test", keep=2)
    built = [family.build([{"n": n}], lambda doc: str(doc["n"]), 1, {}) for n in range(2)]
    failed = family.create(datetime.now(timezone.utc) + timedelta(seconds=5))  # never sealed: still building
    deleted = prune_search_versions(es, services, families={"maint-test": "maint-test-v*"})
    assert deleted == [failed]
    assert family.live() == [built[-1]]
    assert sorted(v.name for v in family.versions()) == sorted(built)
    delete_test_indices(es)


def test_versions_that_are_not_live_get_the_grace_period(services: Settings) -> None:
    settings = services.model_copy(deep=True)
    settings.cache.prefix = "gridlake-maint-test"
    client = redis_client(settings)
    prefix, grace = settings.cache.prefix, settings.cache.grace_s
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.set(pointer_key(prefix), "vlive")
    client.set(day_pointer_key("2024-10-27", prefix), "vlive")
    client.set(day_pointer_key("2024-10-20", prefix), "vbackfilled")  # an older day, published later
    client.set(f"{prefix}:vlive:meter_daily:{{M-1}}:2024-10-27", '{"figures": {"kwh_import": "1.0"}}')
    client.set(f"{prefix}:vbackfilled:meter_daily:{{M-1}}:2024-10-20", '{"figures": {"kwh_import": "0.5"}}')
    # never flipped, no TTL:
    client.set(f"{prefix}:vorphan:meter_daily:{{M-1}}:2024-10-27", '{"figures": {"kwh_import": "2.0"}}')
    client.set(f"{prefix}:vorphan:meter_daily:{{M-2}}:2024-10-27", '{"figures": {"kwh_import": "3.0"}}')
    client.set(f"{prefix}:vretired:meter_daily:{{M-1}}:2024-10-26", '{"figures": {"kwh_import": "4.0"}}')
    client.expire(f"{prefix}:vretired:meter_daily:{{M-1}}:2024-10-26", 30)  # already expiring sooner
    client.set(candidate_pointer_key("2024-10-28", prefix), "vcandidate")  # waiting for its promotion
    client.set(f"{prefix}:vcandidate:meter_daily:{{M-1}}:2024-10-28", '{"figures": {"kwh_import": "5.0"}}')
    client.set(publishing_key("vwriting", prefix), "1", ex=3600)  # a publish in progress, not flipped yet
    client.set(f"{prefix}:vwriting:meter_daily:{{M-1}}:2024-10-29", '{"figures": {"kwh_import": "6.0"}}')

    assert expire_stale_cache_versions(client, settings) == {"vorphan": 2}
    assert client.ttl(f"{prefix}:vcandidate:meter_daily:{{M-1}}:2024-10-28") == -1
    assert client.ttl(f"{prefix}:vwriting:meter_daily:{{M-1}}:2024-10-29") == -1
    assert client.ttl(f"{prefix}:vlive:meter_daily:{{M-1}}:2024-10-27") == -1
    assert client.ttl(f"{prefix}:vbackfilled:meter_daily:{{M-1}}:2024-10-20") == -1
    assert 0 < client.ttl(f"{prefix}:vorphan:meter_daily:{{M-2}}:2024-10-27") <= grace
    assert 0 < client.ttl(f"{prefix}:vretired:meter_daily:{{M-1}}:2024-10-26") <= 30
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def test_maintenance_during_a_publish_leaves_the_new_version_its_whole_lifetime(services: Settings) -> None:
    """The weekly expiry runs while a publish is writing (between its batches): the version,
    flipped right after, keeps the TTL it was written with, not the grace period."""
    settings = services.model_copy(deep=True)
    settings.cache.prefix = "gridlake-maint-publish-test"
    client = redis_client(settings)
    prefix = settings.cache.prefix
    publisher = CachePublisher(client, ttl_s=86400, grace_s=settings.cache.grace_s, prefix=prefix)
    day = date(2024, 10, 27)

    def write_with_maintenance_between_batches(version: str) -> int:
        parts = [{"meter_id": f"M-{n}", "date": day.isoformat()} for n in range(2)]
        entries = [CacheEntry(METER_DAILY, p, METER_DAILY.document(p, {"kwh_import": "1.0"})) for p in parts]
        written = publisher.writer.write(client, version, entries[:1])
        expire_stale_cache_versions(client, settings)
        return written + publisher.writer.write(client, version, entries[1:])

    try:
        version, _ = publisher.publish_with(day, write_with_maintenance_between_batches)
        ttls = [client.ttl(METER_DAILY.key(version, prefix, meter_id=f"M-{n}", date=day.isoformat())) for n in range(2)]
        assert all(ttl > 86400 - 60 for ttl in ttls), ttls
        assert not list(client.scan_iter(match=f"{prefix}:publishing:*")), "the marker goes with the publish"
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


def test_the_maintenance_expires_stale_versions_on_the_cluster_through_the_provider(
        services: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """With cache.cluster the provider's connection is the Cluster the jobs publish into."""
    settings = services.model_copy(deep=True)
    settings.cache.prefix, settings.cache.cluster = "gridlake-maint-cluster-test", True
    monkeypatch.setenv(f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}", json.dumps(connections(settings)[REDIS_CONN_ID]))
    cluster = redis_cluster_client(settings)
    orphans = [f"{settings.cache.prefix}:vorphan:meter:{{M-{n}}}:daily:2024-10-27" for n in range(6)]
    for key in orphans:  # spread over the masters by their hash tags
        cluster.set(key, "{}")
    try:
        assert expire_stale_cache_versions_via_provider(settings) == {"vorphan": 6}
        assert all(0 < cluster.ttl(key) <= settings.cache.grace_s for key in orphans)
    finally:
        for key in orphans:
            cluster.delete(key)
