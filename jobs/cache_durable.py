"""Durable copies of cache entries in Cassandra (``cache_entries``), for cache misses.

Written through by CachePublisher's own publish (each Redis batch is also written here,
one row per key, before the version is verified and flipped; the Spark publish writes the
same rows through the Cassandra connector, jobs/publish_aggregates.py ``durable_rows``), or
behind it by the workers of jobs/cache_writeback.py (write-behind). Idempotent: a
row is keyed by (family, tag, item), so rewriting a date replaces its rows. A meter's
``meter_latest`` keeps one row per day it held (``KeyFamily.newest_by``) and reads take the
newest, so the order in which two days' publishes land does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from schemas.cache_keys import KeyFamily
from schemas.cassandra import CACHE_ENTRIES


class DurableCopies:
    """Reads and writes the ``cache_entries`` table of one keyspace."""

    def __init__(self, session: Session, keyspace: str, concurrency: int = 64) -> None:
        self.session = session
        self.concurrency = concurrency
        table = f"{keyspace}.{CACHE_ENTRIES.name}"
        self._insert = session.prepare(f"INSERT INTO {table} (family, tag, item, version, value, written_at) "
                                       "VALUES (?, ?, ?, ?, ?, ?)")
        self._select = session.prepare(f"SELECT value FROM {table} WHERE family = ? AND tag = ? AND item = ?")
        self._select_newest = session.prepare(f"SELECT value FROM {table} WHERE family = ? AND tag = ? "
                                              "ORDER BY item DESC LIMIT 1")

    @staticmethod
    def _row(family: KeyFamily, parts: dict[str, str], version: str, value: dict[str, Any]) -> tuple[Any, ...]:
        return (family.name, family.durable_tag(parts), family.durable_item(parts, value), version,
                json.dumps(value, sort_keys=True), datetime.now(timezone.utc))

    def write(self, version: str, entries: Sequence[Any]) -> int:
        """Write the durable copy of each CacheEntry; raise on the first failure."""
        rows = [self._row(e.family, e.parts, version, e.value) for e in entries]
        execute_concurrent_with_args(self.session, self._insert, rows, concurrency=self.concurrency,
                                     raise_on_first_error=True)
        return len(rows)

    def read(self, family: KeyFamily, parts: dict[str, str]) -> dict[str, Any] | None:
        """The durable copy of one entry (of a ``newest_by`` family: its newest), or None when
        there is none."""
        tag = family.durable_tag(parts)
        if family.newest_by is not None:
            row = self.session.execute(self._select_newest, (family.name, tag)).one()
        else:
            row = self.session.execute(self._select, (family.name, tag, family.durable_item(parts))).one()
        return json.loads(row.value) if row else None
