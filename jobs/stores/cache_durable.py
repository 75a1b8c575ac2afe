"""Durable copies of cache entries in Cassandra (``cache_entries``), for cache misses.

Written through by CachePublisher's own publish (each Redis batch is also written here,
one row per key, before the version is verified and flipped; the Spark publish writes the
same rows through the Cassandra connector, jobs/stages/publish.py ``durable_rows``), or
behind it by the workers of jobs/stores/cache_writeback.py (write-behind). Idempotent: a
row is keyed by (family, month, bucket, tag, item), all from the key's parts, so rewriting a
date replaces its rows. Every copy is written with its version's publish time as its write time
(``version_write_time``), so the newest version wins whatever order the copies arrive in.
A meter's ``meter_latest`` has no rows of its own: it is the meter's
newest ``meter_daily`` row, whose document holds its date (``KeyFamily.newest_of``), so the order in
which two days' publishes land does not matter, and write-through writes a third fewer rows
than one copy per key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from jobs.stores.cache_versions import version_write_time
from jobs.stores.cassandra_profiles import WRITES
from schemas.cache_keys import KeyFamily
from schemas.cassandra import CACHE_ENTRIES, CACHE_ENTRY_MONTHS, cache_bucket


class DurableCopies:
    """Reads and writes the ``cache_entries`` table of one keyspace (and its months)."""

    def __init__(self, session: Session, keyspace: str, concurrency: int = 64) -> None:
        self.session = session
        self.concurrency = concurrency
        table, months = f"{keyspace}.{CACHE_ENTRIES.name}", f"{keyspace}.{CACHE_ENTRY_MONTHS.name}"
        in_partition = "family = ? AND month = ? AND bucket = ? AND tag = ?"
        self._insert = session.prepare(f"INSERT INTO {table} (family, month, bucket, tag, item, version, value) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?")
        self._insert_month = session.prepare(f"INSERT INTO {months} (family, month) VALUES (?, ?)")
        self._select = session.prepare(f"SELECT value FROM {table} WHERE {in_partition} AND item = ?")
        self._select_newest = session.prepare(f"SELECT value FROM {table} WHERE {in_partition} "
                                              "ORDER BY tag DESC, item DESC LIMIT 1")
        self._select_months = session.prepare(f"SELECT month FROM {months} WHERE family = ? ORDER BY month DESC")

    @staticmethod
    def _row(family: KeyFamily, parts: dict[str, str], version: str, document: str) -> tuple[Any, ...]:
        tag = family.durable_tag(parts)
        return (family.name, family.durable_month(parts), cache_bucket(tag), tag, family.durable_item(parts),
                version, document)

    def record_months(self, months: Iterable[tuple[str, str]]) -> None:
        """Note that (family, month) pairs hold durable copies: before the copies are written,
        so a miss of a ``newest_of`` family finds every month that may hold its answer."""
        execute_concurrent_with_args(self.session, self._insert_month, sorted(set(months)), execution_profile=WRITES,
                                     concurrency=self.concurrency, raise_on_first_error=True)

    def write(self, version: str, entries: Sequence[Any]) -> int:
        """Write the durable copy of each CacheEntry that has one (``has_durable_copy``); raise
        on the first failure; return the rows written."""
        written_at = version_write_time(version)
        rows = [(*self._row(e.family, e.parts, version, e.value), written_at)
                for e in entries if e.family.has_durable_copy]
        self.record_months((family, month) for family, month, *_ in rows)
        execute_concurrent_with_args(self.session, self._insert, rows, concurrency=self.concurrency,
                                     execution_profile=WRITES,
                                     raise_on_first_error=True)
        return len(rows)

    def read(self, family: KeyFamily, parts: dict[str, str]) -> str | None:
        """The document of one entry's durable copy (of a ``newest_of`` family: that family's
        newest row of the tag), or None when there is none. The newest row is looked for month
        by month, newest first, through the months ``record_months`` noted: one read when the
        tag has a copy in the newest month, one per month stored when it has none."""
        source = family.newest_of
        tag = family.durable_tag(parts)
        if source is None:
            row = self.session.execute(self._select, (family.name, family.durable_month(parts), cache_bucket(tag),
                                                      tag, family.durable_item(parts))).one()
            return row.value if row else None
        for month in self.session.execute(self._select_months, (source.name,)):
            row = self.session.execute(self._select_newest, (source.name, month.month, cache_bucket(tag), tag)).one()
            if row:
                return row.value
        return None
