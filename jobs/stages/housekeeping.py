"""Weekly housekeeping (the grid_maintenance DAG): what the daily runs leave behind.

- ``prune_runs``: `_runs` rows older than the retention of conf (`maintenance.runs_retention_days`);
- ``prune_search_versions``: search index versions beyond `search.keep_versions` and failed
  builds, of every family (`meters`, each month's `readings-daily`), never a live one;
- ``expire_stale_cache_versions``: Redis keys of versions that are not live and never will
  be (a publish that failed before its flip leaves its keys with the full lifetime) get the
  grace period of conf, as retired versions do.

``main`` is the `housekeeping` stage of jobs/pipeline/submit.py: VACUUM of the bronze Delta tables, then
`_runs` pruning. Compaction (OPTIMIZE) is the `compact` stage (jobs/stages/compact.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, timedelta

from elasticsearch import Elasticsearch
from pyspark.sql import SparkSession

from jobs.runtime.config import Settings
from jobs.stores.cache_versions import RedisClient
from jobs.stores.lake import vacuum
from jobs.stores.runs import prune_runs_before
from jobs.stores.search_indices import VersionedIndex
from schemas.cache_keys import candidate_pointer_key, day_pointer_key, pointer_key, publishing_key

log = logging.getLogger(__name__)

#: search alias -> the index families behind it, as index name patterns
SEARCH_FAMILIES = {"meters": "meters-v*", "readings-daily": "readings-daily-*-v*"}


def prune_runs(settings: Settings, today: date) -> int:
    """Delete `_runs` rows of dates before the retention window; return how many went."""
    cutoff = today - timedelta(days=settings.maintenance.runs_retention_days)
    deleted = prune_runs_before(settings.lake_root, cutoff)
    log.info("stage=maintenance event=prune_runs before=%s deleted=%d", cutoff, deleted)
    return deleted


def prune_search_versions(es: Elasticsearch, settings: Settings,
                          families: dict[str, str] = SEARCH_FAMILIES) -> list[str]:
    """Prune every index family behind the search aliases; return the deleted indices."""
    deleted = []
    for alias, pattern in families.items():
        names = es.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        bases = sorted({name.rsplit("-v", 1)[0] for name in names})
        for base in bases:
            family = VersionedIndex(es, alias, base, settings.search.replicas, settings.search.keep_versions)
            deleted += family.prune()
    log.info("stage=maintenance event=prune_search deleted=%s", deleted)
    return deleted


def expire_stale_cache_versions(client: RedisClient, settings: Settings) -> dict[str, int]:
    """Give keys of versions that no pointer names (the newest day's, any day's live or
    candidate version) and that no publish in progress is writing the grace period, unless
    they already expire sooner; return keys touched per version."""
    prefix = settings.cache.prefix
    pointers = [pointer_key(prefix), *client.scan_iter(match=day_pointer_key("*", prefix), count=1000),
                *client.scan_iter(match=candidate_pointer_key("*", prefix), count=1000)]
    live_versions = {value.decode() for value in map(client.get, pointers) if value is not None}
    live_versions |= {key.decode().rsplit(":", 1)[1]
                      for key in client.scan_iter(match=publishing_key("*", prefix), count=1000)}
    grace_s = settings.cache.grace_s
    touched: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}:v*", count=1000):
        version = key.decode().split(":", 2)[1]
        if version in live_versions:
            continue
        ttl = client.ttl(key)
        if ttl == -1 or ttl > grace_s:
            client.expire(key, grace_s)
            touched[version] = touched.get(version, 0) + 1
    log.info("stage=maintenance event=expire_cache live=%s touched=%s", sorted(live_versions), touched)
    return touched


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> Iterator[str]:
    """VACUUM the bronze Delta tables (retention from conf), then prune `_runs` as of ``run_date``."""
    from jobs.runtime.spark import spark_session

    spark = spark or spark_session(settings, app_name="gridlake-housekeeping")
    for table in vacuum(spark, settings):
        yield f"vacuumed {table}"
    yield f"_runs: {prune_runs(settings, run_date)} rows older than {settings.maintenance.runs_retention_days} days deleted"
