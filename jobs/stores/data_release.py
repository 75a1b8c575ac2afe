"""A day's release: its candidate figures (Redis) and search indices (Elasticsearch) made live
together, or dropped together.

With ``release.mode: candidate`` the publish leaves the day's new version at its candidate
pointer and the index build leaves each new index under its family's candidate alias
(jobs/stores/cache_versions.py, jobs/stores/search_indices.py). Promoting writes the figures'
durable copies (through, or queued behind, as ``cache.durable_mode`` says), flips the figures
live, then swaps each search alias; aborting drops them. The checks that gate a scheduled
promotion are the ``release`` stage's (jobs/stages/release.py); these functions are also what
`gridlake cache promote|abort` run by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from jobs.runtime.config import Settings
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import PublishError, configured_publisher
from jobs.stores.cache_writeback import WriteBehindQueue
from jobs.stores.clients import cache_client, cassandra_session, elasticsearch_client
from jobs.stores.search_indices import VersionedIndex
from schemas.cache_keys import AREA_DAILY, day_pointer_key
from schemas.search import day_families


@dataclass
class Release:
    """What a promotion or an abort moved: the figures' version, their durable copies sent, and
    the search indices."""

    day: date
    version: str | None = None
    copies: int = 0
    indices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VersionFigures:
    """What the release checks compare of one version of a day: its keys and its regions'
    total kWh imported."""

    version: str
    keys: int
    region_kwh: Decimal


def version_figures(settings: Settings, day: date) -> tuple[VersionFigures | None, VersionFigures | None]:
    """The figures of ``day``'s candidate and of its live version, read from Redis (None for a
    version the day does not have)."""
    client = cache_client(settings)
    publisher = configured_publisher(client, settings.cache)
    prefix = settings.cache.prefix

    def figures(version: str | None) -> VersionFigures | None:
        if version is None:
            return None
        regions = AREA_DAILY.key(version, prefix, level="region", area_id="*", date=day.isoformat())
        documents = [client.get(key) for key in client.scan_iter(match=regions, count=1000)]
        total = sum((Decimal(json.loads(doc)["figures"].get("kwh_import", "0")) for doc in documents if doc),
                    Decimal(0))
        return VersionFigures(version, sum(1 for _ in publisher.keys_of(version)), total)

    live = client.get(day_pointer_key(day.isoformat(), prefix))
    return figures(publisher.candidate(day)), figures(live.decode() if live is not None else None)


def _families(settings: Settings, day: date) -> list[VersionedIndex]:
    es = elasticsearch_client(settings)
    return [VersionedIndex(es, alias, base, settings.search.replicas, settings.search.keep_versions)
            for alias, base in day_families(day)]


def promote_release(settings: Settings, day: date) -> Release:
    """Make ``day``'s candidates live: the figures (durable copies first, then the flip), then
    the search indices. Raises PublishError when the day has no candidate at all."""
    client = cache_client(settings)
    release = Release(day)
    with cassandra_session(settings) as session:
        durable = (WriteBehindQueue(client, settings.cache.prefix) if settings.cache.durable_mode == "write-behind"
                   else DurableCopies(session, settings.cassandra.keyspace))
        publisher = configured_publisher(client, settings.cache, durable)
        if publisher.candidate(day) is not None:
            release.version, release.copies = publisher.promote(day)
    release.indices = [index for family in _families(settings, day) if (index := family.promote_candidate())]
    if release.version is None and not release.indices:
        raise PublishError(f"{day}: no candidate version to promote")
    return release


def abort_release(settings: Settings, day: date) -> Release:
    """Drop ``day``'s candidates: the figures' version expires after ``cache.grace_s``, the
    indices leave their candidate alias (the next build prunes them). Raises PublishError when
    the day has no candidate at all."""
    publisher = configured_publisher(cache_client(settings), settings.cache)
    release = Release(day)
    if publisher.candidate(day) is not None:
        release.version = publisher.abort(day)
    release.indices = [index for family in _families(settings, day) if (index := family.abort_candidate())]
    if release.version is None and not release.indices:
        raise PublishError(f"{day}: no candidate version to abort")
    return release
