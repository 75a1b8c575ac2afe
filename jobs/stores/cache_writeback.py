"""Write-behind of the cache's durable copies: a Redis Stream drained into Cassandra.

In ``write-behind`` mode a publish appends the durable copies of each batch it writes to
Redis as one entry of the stream ``<prefix>:writeback`` (one XADD per batch, not per key, so
the queue adds one command to a batch's pipeline of two per key) instead of writing Cassandra
itself; `gridlake writeback run` drains it:

- a consumer group (``writers``) hands each stream entry (a batch of copies) to one worker; it
  is acknowledged only after all its Cassandra writes succeeded, so a worker that dies leaves
  its entries pending;
- pending entries idle longer than ``claim_idle_ms`` are taken over with XAUTOCLAIM, so a
  crashed worker's batch is finished by the next one;
- a failed batch is retried with exponential backoff; after ``max_deliveries`` deliveries the
  entry moves to the dead-letter stream ``<prefix>:writeback:dead`` with its error;
- Cassandra writes are upserts keyed like the cache key, so an entry written twice (a worker
  that died after writing, before acknowledging) is stored once;
- `gridlake writeback replay` puts dead-lettered entries back on the stream once their cause
  is fixed: each copy carries its version's publish time as its write time, so a replayed old
  entry never overwrites a newer version, and one replayed twice is stored once;
- after each drain the stream is trimmed up to its oldest entry not yet acknowledged (or, with
  none pending, up to the last one delivered), so what was written leaves Redis's memory and
  nothing unwritten does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import redis

from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import FAMILIES, CacheEntry, RedisClient
from schemas.cache_keys import PREFIX

log = logging.getLogger(__name__)

GROUP = "writers"


def stream_key(prefix: str = PREFIX) -> str:
    return f"{prefix}:writeback"


def dead_letter_key(prefix: str = PREFIX) -> str:
    return f"{stream_key(prefix)}:dead"


class WriteBehindQueue:
    """The producer side from Python: what a publish from this process (``CachePublisher`` with
    this sink) appends instead of writing Cassandra itself. The Spark publish appends the same
    entries from the JVM (``queued_copy`` in jobs/stages/publish.py)."""

    def __init__(self, client: RedisClient, prefix: str = PREFIX) -> None:
        self.client = client
        self.stream = stream_key(prefix)
        self.dead = dead_letter_key(prefix)

    def write(self, version: str, entries: Sequence[CacheEntry]) -> int:
        """Append the durable copies of ``entries`` (those that have one) as one stream entry;
        same contract as DurableCopies.write."""
        copies = [{"family": entry.family.name, "parts": entry.parts, "value": entry.value}
                  for entry in entries if entry.family.has_durable_copy]
        if copies:
            self.client.xadd(self.stream, {"version": version, "copies": orjson.dumps(copies)})
        return len(copies)

    def replay_dead(self) -> int:
        """Move every dead-lettered entry back onto the stream, oldest first (without its error);
        return how many. Each is appended before it leaves the dead-letter stream: an
        interruption between the two leaves it in both, and written twice it is stored once."""
        moved = 0
        for entry_id, fields in self.client.xrange(self.dead):
            self.client.xadd(self.stream, {"version": fields[b"version"], "copies": fields[b"copies"]})
            self.client.xdel(self.dead, entry_id)
            moved += 1
        return moved


def queued_copies(fields: dict[bytes, bytes]) -> tuple[str, list[CacheEntry]]:
    """The version and the durable copies of one stream entry."""
    return fields[b"version"].decode(), [CacheEntry(FAMILIES[copy["family"]], copy["parts"], copy["value"])
                                         for copy in orjson.loads(fields[b"copies"])]


@dataclass
class DrainReport:
    """What a drain did: durable copies written, stream entries dead-lettered, reclaimed and
    trimmed away once acknowledged."""

    written: int = 0
    dead: int = 0
    reclaimed: int = 0
    trimmed: int = 0


class WriteBehindWorker:
    """Drains the stream into Cassandra; many can run side by side under different names."""

    def __init__(self, client: RedisClient, durable: DurableCopies, name: str, prefix: str = PREFIX,
                 batch: int = 100, max_deliveries: int = 5, claim_idle_ms: int = 30_000,
                 backoff_s: float = 0.2) -> None:
        self.client = client
        self.durable = durable
        self.name = name
        self.stream = stream_key(prefix)
        self.dead = dead_letter_key(prefix)
        self.batch = batch
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.backoff_s = backoff_s
        try:
            client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _write(self, fields: dict[bytes, bytes]) -> int:
        """Write one stream entry's copies (idempotent upserts); return how many."""
        return self.durable.write(*queued_copies(fields))

    def _deliveries(self, entry_id: bytes) -> int:
        pending = self.client.xpending_range(self.stream, GROUP, min=entry_id, max=entry_id, count=1)
        return int(pending[0]["times_delivered"]) if pending else 1

    def _handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]], report: DrainReport) -> None:
        for entry_id, fields in entries:
            if not fields:  # trimmed away while pending: nothing left to write
                self.client.xack(self.stream, GROUP, entry_id)
                continue
            for attempt in range(3):
                try:
                    written = self._write(fields)
                    self.client.xack(self.stream, GROUP, entry_id)
                    report.written += written
                    break
                except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
                    error = f"{type(exc).__name__}: {exc}"
                    time.sleep(self.backoff_s * 2**attempt)
            else:
                if self._deliveries(entry_id) >= self.max_deliveries:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.xadd(self.dead, {**fields, b"error": error[:1000], b"entry_id": entry_id})
                    pipe.xack(self.stream, GROUP, entry_id)
                    pipe.execute()
                    report.dead += 1
                    log.error("stage=writeback event=dead_letter entry=%s error=%s", entry_id, error)

    def trim(self) -> int:
        """Drop the stream's entries every worker has acknowledged: those before the oldest one
        pending, or, with none pending, up to the last one delivered. Returns how many went."""
        pending = self.client.xpending(self.stream, GROUP)
        if pending["pending"]:
            cut = pending["min"]
        else:
            delivered = next((group["last-delivered-id"] for group in self.client.xinfo_groups(self.stream)
                              if group["name"] in (GROUP, GROUP.encode())), None)
            if delivered in (None, b"0-0", "0-0"):
                return 0
            millis, _, sequence = (delivered.decode() if isinstance(delivered, bytes) else delivered).partition("-")
            cut = f"{millis}-{int(sequence) + 1}"
        return self.client.xtrim(self.stream, minid=cut, approximate=False)

    def drain(self, block_ms: int = 1000) -> DrainReport:
        """Reclaim idle entries of crashed workers, then read new ones until the stream is
        empty; then trim what was acknowledged."""
        report = DrainReport()
        cursor = "0-0"
        while True:
            cursor, claimed, _ = self.client.xautoclaim(self.stream, GROUP, self.name, self.claim_idle_ms,
                                                        start_id=cursor, count=self.batch)
            report.reclaimed += len(claimed)
            self._handle(claimed, report)
            if cursor in (b"0-0", "0-0"):
                break
        while True:
            batches = self.client.xreadgroup(GROUP, self.name, {self.stream: ">"}, count=self.batch, block=block_ms)
            if not batches:
                report.trimmed = self.trim()
                return report
            for _, entries in batches:
                self._handle(entries, report)
