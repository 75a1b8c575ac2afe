"""The serving API's read side: through the live pointers, falling back to Cassandra on a miss.

A day's keys are read through that day's pointer, a meter's latest day through the pointer
of the newest day published (schemas/cache_keys.py). A reader of candidates (the edge's canary
pool) reads a day through its candidate pointer where there is one.

A miss (key expired, evicted, or Redis restarted) is served from the durable copy and put
back into Redis. Only one caller refills a key: it takes a short lock beside the key (same
hash tag, so the same cluster slot) while the others wait for the refill instead of all
reading Cassandra at once (no stampede of identical misses). When Redis itself fails (down,
timing out, a cluster without a slot's master), ``read`` answers from the durable copy too,
and says so.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import redis
import redis.asyncio

from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import RedisClient
from jobs.stores.hot_keys import HotKeys
from schemas.cache_keys import METER_DAILY, PREFIX, KeyFamily, candidate_pointer_key, day_pointer_key, pointer_key


@dataclass(frozen=True)
class CacheRead:
    """One entry as the API serves it: its JSON ``document`` as stored, and where it came from;
    ``version`` is the live version it was read through, None when only the durable copy in
    Cassandra could answer."""

    document: bytes
    source: Literal["worker", "memcached", "redis", "cassandra"]
    version: str | None


class CacheReader:
    """Reads cache entries as the API serves them."""

    def __init__(self, client: RedisClient, durable: DurableCopies, ttl_s: int, prefix: str = PREFIX,
                 refill_wait_ms: int = 2000, candidate: bool = False) -> None:
        self.client = client
        self.durable = durable
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.refill_wait_ms = refill_wait_ms
        self.candidate = candidate

    def version_of(self, family: KeyFamily, parts: dict[str, str]) -> bytes | None:
        """The version the entry is read through: its day's (candidate, for a reader of
        candidates, where there is one), or the newest day's for an undated family."""
        if "date" not in family.item_parts:
            return self.client.get(pointer_key(self.prefix))
        if self.candidate and (version := self.client.get(candidate_pointer_key(parts["date"], self.prefix))):
            return version
        return self.client.get(day_pointer_key(parts["date"], self.prefix))

    def _refill(self, key: str, document: str) -> None:
        self.client.set(key, document, ex=self.ttl_s)

    def get(self, family: KeyFamily, **parts: str) -> bytes | None:
        """The document of the entry of ``family`` named by ``parts`` in the live version; None if
        none exists."""
        version = self.version_of(family, parts)
        if version is None:  # not published (or expired) in Redis: only the durable copy can answer
            return _encoded(self.durable.read(family, parts))
        key = family.key(version.decode(), self.prefix, **parts)
        found = self.client.get(key)
        if found is not None:
            return found
        lock = f"{key}:refill"
        if self.client.set(lock, "1", nx=True, px=self.refill_wait_ms):
            try:
                # Another caller may have refilled the key between our miss and our lock.
                found = self.client.get(key)
                if found is not None:
                    return found
                stored = self.durable.read(family, parts)
                if stored is not None:
                    self._refill(key, stored)
                return _encoded(stored)
            finally:
                self.client.delete(lock)
        deadline = time.monotonic() + self.refill_wait_ms / 1000
        while time.monotonic() < deadline and self.client.exists(lock):
            time.sleep(0.01)
        found = self.client.get(key)
        return found if found is not None else _encoded(self.durable.read(family, parts))

    def read(self, family: KeyFamily, **parts: str) -> CacheRead | None:
        """Like ``get``, saying which store answered: Redis through the live version, or the
        durable copy when the version is not in Redis, the key is gone for good, or Redis fails."""
        try:
            version = self.version_of(family, parts)
            if version is not None:
                found = self.client.get(family.key(version.decode(), self.prefix, **parts))
                if found is not None:
                    return CacheRead(found, "redis", version.decode())
                found = self.get(family, **parts)  # the refill path: one caller reads Cassandra
                return CacheRead(found, "cassandra", version.decode()) if found is not None else None
        except redis.RedisError:
            pass
        return self.read_durable(family, **parts)

    def read_durable(self, family: KeyFamily, **parts: str) -> CacheRead | None:
        """The entry's durable copy in Cassandra, without asking Redis (which is failing)."""
        stored = self.durable.read(family, parts)
        return CacheRead(stored.encode(), "cassandra", None) if stored is not None else None

    def get_meter_daily(self, meter_id: str, day: str) -> bytes | None:
        """The document of what meter ``meter_id`` did on local day ``day`` (YYYY-MM-DD)."""
        return self.get(METER_DAILY, meter_id=meter_id, date=day)


def _encoded(document: str | None) -> bytes | None:
    return document.encode() if document is not None else None


class RedisDown(RuntimeError):
    """Redis failed on the fast path (or did within ``LiveReader.down_for_s``): answer from the
    durable copies without waiting for Redis's connection retries again."""


class LiveReader:
    """The API's fast path on its event loop: an entry through its live version, from memcached
    (with a ``hot`` tier) or Redis, without blocking a thread. It neither refills nor falls back:
    None (not published, a miss) sends the request to ``CacheReader.read``.

    The pointers it reads are kept ``pointer_ttl_s`` in the process: a flip is seen that much
    later, and every response still holds one version's figures whole (the version replaced
    stays readable for ``cache.grace_s``). It halves the round trips to Redis per request.

    A Redis failure raises RedisDown, and so does every read for ``down_for_s`` after it: each
    failed attempt costs a connect timeout or a refused connection and one quick retry
    (``serving_redis``), which one request pays, not all of them.

    With ``worker_entries`` > 0 the entries last read are also kept in the worker (least
    recently used out first), under their versioned keys: a version's entries never change once
    written, so a flip, which changes the keys asked for, never serves an old figure."""

    def __init__(self, client: redis.asyncio.Redis | redis.asyncio.RedisCluster, prefix: str = PREFIX,
                 hot: HotKeys | None = None, pointer_ttl_s: float = 0.1, down_for_s: float = 1.0,
                 worker_entries: int = 0, candidate: bool = False) -> None:
        self.client = client
        self.candidate = candidate
        self.worker_entries = worker_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self.down_for_s = down_for_s
        self._down_until = 0.0
        self.prefix = prefix
        self.hot = hot
        self.pointer_ttl_s = pointer_ttl_s
        self._pointers: dict[str, tuple[float, bytes | None]] = {}

    async def _pointer(self, pointer: str) -> bytes | None:
        now = time.monotonic()
        kept = self._pointers.get(pointer)
        if kept is not None and now - kept[0] < self.pointer_ttl_s:
            return kept[1]
        version = await self.client.get(pointer)
        if len(self._pointers) > 10_000:  # one per day asked for; bounded against odd requests
            self._pointers.clear()
        self._pointers[pointer] = (now, version)
        return version

    async def day_version(self, day: str) -> bytes | None:
        """The version a day is read through (its candidate's, for a reader of candidates, where
        there is one); None when the day is not published."""
        if self.candidate and (version := await self._pointer(candidate_pointer_key(day, self.prefix))):
            return version
        return await self._pointer(day_pointer_key(day, self.prefix))

    async def read(self, family: KeyFamily, pinned: str | None = None, **parts: str) -> CacheRead | None:
        """The entry through the live version (or the ``pinned`` version of its day, when given
        and of that day), or None when it is not there; RedisDown when Redis fails."""
        if time.monotonic() < self._down_until:
            raise RedisDown("Redis failed moments ago")
        dated = "date" in family.item_parts
        try:
            if dated and pinned and pinned[1:9] == parts["date"].replace("-", ""):
                version = pinned.encode()
            else:
                version = await (self.day_version(parts["date"]) if dated
                                 else self._pointer(pointer_key(self.prefix)))
            if version is None:
                return None
            key = family.key(version.decode(), self.prefix, **parts)
            if (kept := self._entries.get(key)) is not None:
                self._entries.move_to_end(key)
                return CacheRead(kept, "worker", version.decode())
            if self.hot is not None and (found := await self.hot.get(key)) is not None:
                return CacheRead(found, "memcached", version.decode())
            found = await self.client.get(key)
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.down_for_s
            raise RedisDown(f"{type(exc).__name__}: {exc}") from exc
        if found is None:
            return None
        if self.hot is not None:
            await self.hot.put(key, found)
        if self.worker_entries:
            self._entries[key] = found
            if len(self._entries) > self.worker_entries:
                self._entries.popitem(last=False)
        return CacheRead(found, "redis", version.decode())
