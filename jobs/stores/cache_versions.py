"""Publish a versioned namespace of keys into Redis and flip the API over to it at once.

A publish writes every key of one local day's new version (layout in schemas/cache_keys.py)
with pipelined writes (``VersionWriter`` from this process with ``publish``, or the Spark
tasks' JVM writer with ``publish_with``, see jobs/stages/publish.py), counts what landed, and only then
flips the day's pointer ``<prefix>:live:<date>`` (a single-key SET, the only atomic change a
Redis Cluster allows). The day's previous version then expires after a grace period, so
readers that fetched the old pointer just before the flip still find their keys. A failure
before the flip leaves the API on the old version; the half-written one expires by its own TTL.
The grace period is set inside Redis, one SCAN step at a time on each master, by a script:
one EXPIRE per key sent from here cost 3.7 s per 200,000 keys, the script 1.0 s.

``<prefix>:live`` follows the newest day published, where each meter's ``meter_latest`` is.
A publish of an older day (a backfill, a correction) writes no ``meter_latest`` and leaves that
pointer alone, so the API never goes back to older figures; a script compares the days inside
Redis, so two days published at once cannot move it backwards either.

A publish can also stop at ``candidate``: the version is written and verified, and the day's
candidate pointer ``<prefix>:candidate:<date>`` set instead of the live one. Only the edge's
canary pool reads it. ``promote`` then writes its durable copies (read back from Redis: a
candidate's copies must not replace the live version's in Cassandra before it is live) and
flips it live as a publish would; ``abort`` drops the pointer and lets the version expire.

Works the same on one Redis and on a Redis Cluster: redis-py's cluster pipeline splits a
batch by slot, and the hash tags of the layout keep one read's keys in one slot.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any, NamedTuple, Protocol, Union

import redis

from jobs.runtime.config import CacheConf
from schemas.cache_keys import (KEY_FAMILIES, METER_LATEST, PREFIX, KeyFamily, candidate_pointer_key, day_pointer_key,
                                family_of, pointer_key, publishing_key)

log = logging.getLogger(__name__)

RedisClient = Union[redis.Redis, redis.RedisCluster]
#: Key families by name, for entries that travel as data (Spark rows, stream entries).
FAMILIES: dict[str, KeyFamily] = {family.name: family for family in KEY_FAMILIES}


class DurableSink(Protocol):
    """Where a publish sends the durable copies: Cassandra itself (write-through,
    jobs/stores/cache_durable.py) or the write-behind stream (jobs/stores/cache_writeback.py)."""

    def write(self, version: str, entries: Sequence[Any]) -> int: ...


class PublishError(RuntimeError):
    """The new version is not complete; the pointer was not flipped."""


class CacheEntry(NamedTuple):
    """One key to publish: its family, its key parts, and its value, the JSON document the API
    sends (``KeyFamily.document``). A tuple, not a frozen dataclass: a publish makes one per
    key, and a tuple is made in half the time."""

    family: KeyFamily
    parts: dict[str, str]
    value: str


def new_version(run_date: date) -> str:
    """A fresh version id for a publish of ``run_date``: the date for people, then the time of
    the publish in milliseconds (11 hex digits) and a nonce for two publishes in one millisecond."""
    return f"v{run_date:%Y%m%d}-{time.time_ns() // 1_000_000:011x}{uuid.uuid4().hex[:3]}"


def version_write_time(version: str) -> int:
    """The write time (Cassandra's ``USING TIMESTAMP``, microseconds) of a version's durable
    copies: when the version was published (its id says), plus its nonce below the millisecond.
    Every durable row's key holds its date, so versions meet in a row only within one day, and
    the newest publish wins whatever order its copies arrive in (a write-behind batch reclaimed
    late); a delete made afterwards still removes them. A version without a publish time (made
    before versions carried one) gets 0: any copy written since wins over it."""
    published, nonce = version[10:21], version[21:24]
    if len(version) != 24 or not all(c in "0123456789abcdef" for c in published + nonce):
        return 0
    return int(published, 16) * 1000 + int(nonce, 16) % 1000


def version_day(version: str) -> date:
    """The local day a version (``new_version``) was published for."""
    return datetime.strptime(version[1:9], "%Y%m%d").date()


#: Moves ``<prefix>:live`` (KEYS[1]) to version ARGV[1] of day ARGV[2] (YYYYMMDD) unless it
#: points at a newer day already. Versions start with "v" and their day, so characters 2-9
#: compare as days.
_FOLLOW_NEWEST_DAY = """
local live = redis.call('GET', KEYS[1])
if not live or string.sub(live, 2, 9) <= ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) end
"""

#: One SCAN step on this node from cursor ARGV[1], COUNT ARGV[3]: the keys matching ARGV[2]
#: expire in ARGV[4] seconds. Returns the next cursor and how many keys it set. The keys are
#: the node's own, of many slots, so the script says it touches undeclared keys across slots.
_EXPIRE_MATCHING = """#!lua flags=allow-cross-slot-keys
local step = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
for _, key in ipairs(step[2]) do redis.call('EXPIRE', key, ARGV[4]) end
return {step[1], #step[2]}
"""
#: How long a publish in progress is marked as one at most (``publishing_key``): a publish that
#: dies without removing its marker is spared by maintenance that long.
PUBLISHING_TTL_S = 6 * 3600
#: Slots a SCAN step visits: larger steps block the serving Redis for longer per call.
SCAN_COUNT = 1000
#: The oldest Redis a publish runs on: the retire script declares flags (``#!lua flags=``),
#: which came in 7.0. Checked before anything is written, not found out after the flip.
MIN_REDIS_VERSION = (7, 0)


def runs_publish(redis_version: str) -> bool:
    """Whether a server reporting ``redis_version`` (INFO server) runs the publish's scripts."""
    major_minor = tuple(int(part) for part in redis_version.split(".")[:2])
    return major_minor >= MIN_REDIS_VERSION


def _batches(entries: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(entries)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class VersionWriter:
    """How the keys of a version are written: pipelined batches of SET with its TTL, each batch
    followed by its durable copies. ``write`` does it from this process (``publish``);
    the Spark publish hands the same batch size, prefix and TTLs to the JVM's RedisEntryWriter,
    which sends the same commands from the tasks (jobs/stages/publish.py)."""

    ttl_s: int
    prefix: str = PREFIX
    batch_size: int = 500
    family_ttl_s: Mapping[str, int] = field(default_factory=dict)

    def write_batch(self, client: RedisClient, version: str, batch: Sequence[CacheEntry]) -> None:
        """Write one batch of keys in one pipeline round trip (a cluster pipeline splits it by slot)."""
        ttl_s = self.family_ttl_s.get
        pipe = client.pipeline(transaction=False)
        for family, parts, value in batch:
            pipe.set(family.key(version, self.prefix, **parts), value, ex=ttl_s(family.name, self.ttl_s))
        pipe.execute()

    def write(self, client: RedisClient, version: str, entries: Iterable[CacheEntry],
              durable: DurableSink | None = None) -> int:
        """Write ``entries`` under ``version`` in batches of ``batch_size``, each batch's durable
        copies after it (written through, or queued behind); return the keys written."""
        written = 0
        for batch in _batches(entries, self.batch_size):
            self.write_batch(client, version, batch)
            if durable is not None:
                durable.write(version, batch)  # before the flip: written through, or queued behind
            written += len(batch)
        return written


class CachePublisher:
    """Writes versions, verifies them, flips the pointer, retires the previous version."""

    def __init__(self, client: RedisClient, ttl_s: int, grace_s: int, batch_size: int = 500,
                 prefix: str = PREFIX, durable: DurableSink | None = None,
                 family_ttl_s: Mapping[str, int] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.durable = durable
        self.grace_s = grace_s
        self.batch_size = batch_size
        self.writer = VersionWriter(ttl_s=ttl_s, prefix=prefix, batch_size=batch_size,
                                    family_ttl_s=dict(family_ttl_s or {}))
        # A day's pointer lives as long as the longest-lived of its keys, then goes with them.
        self.pointer_ttl_s = max([ttl_s, *self.writer.family_ttl_s.values()])
        self._follow_newest_day = client.register_script(_FOLLOW_NEWEST_DAY)

    def live_version(self) -> str | None:
        """The version of the newest day published."""
        value = self.client.get(pointer_key(self.prefix))
        return value.decode() if value is not None else None

    def is_newest(self, run_date: date) -> bool:
        """True when no later day than ``run_date`` has been published: its publish writes the
        meters' ``meter_latest``."""
        newest = self.live_version()
        return newest is None or version_day(newest) <= run_date

    def write(self, version: str, entries: Iterable[CacheEntry]) -> int:
        """Write ``entries`` under ``version`` from this process (and their durable copies, when
        this publisher has a sink); return the keys written."""
        return self.writer.write(self.client, version, entries, self.durable)

    def keys_of(self, version: str) -> Iterator[bytes]:
        """Every key of ``version`` (SCAN on each master of a cluster)."""
        return self.client.scan_iter(match=f"{self.prefix}:{version}:*", count=SCAN_COUNT)

    def _masters(self) -> list[redis.Redis]:
        """A client of each master: the server itself, or every primary of a cluster."""
        if isinstance(self.client, redis.RedisCluster):
            return [self.client.get_redis_connection(node) for node in self.client.get_primaries()]
        return [self.client]

    def check_servers(self) -> None:
        """Fail, before anything is written, when a master is older than MIN_REDIS_VERSION."""
        for master in self._masters():
            version = master.info("server")["redis_version"]
            if not runs_publish(version):
                address = master.get_connection_kwargs()
                raise PublishError(f"Redis at {address.get('host')}:{address.get('port')} is {version}; the publish "
                                   f"needs {'.'.join(map(str, MIN_REDIS_VERSION))} or later; nothing was written")

    def verify(self, version: str, expected_keys: int) -> None:
        """Fail unless exactly ``expected_keys`` keys of ``version`` are stored."""
        found = sum(1 for _ in self.keys_of(version))
        if found != expected_keys:
            raise PublishError(f"version {version}: {found} keys stored, {expected_keys} expected; not flipped")

    def flip(self, version: str) -> str | None:
        """Make ``version`` its day's live version in one SET, and the newest day's unless a
        later day is published; return the version it replaced for its day."""
        day = version_day(version)
        previous = self.client.set(day_pointer_key(day.isoformat(), self.prefix), version, get=True,
                                   ex=self.pointer_ttl_s)
        self._follow_newest_day(keys=[pointer_key(self.prefix)], args=[version, f"{day:%Y%m%d}"])
        log.info("stage=publish event=flip day=%s live=%s previous=%s", day, version, previous)
        return previous.decode() if previous is not None else None

    def retire(self, version: str) -> int:
        """Let ``version``'s keys expire after the grace period; return how many were touched."""
        pattern, retired = f"{self.prefix}:{version}:*", 0
        for master in self._masters():
            expire_matching = master.register_script(_EXPIRE_MATCHING)
            cursor = 0
            while True:
                next_cursor, touched = expire_matching(args=[cursor, pattern, SCAN_COUNT, self.grace_s])
                retired += touched
                cursor = int(next_cursor)
                if cursor == 0:
                    break
        return retired

    def publish(self, run_date: date, entries: Iterable[CacheEntry], candidate: bool = False) -> tuple[str, int]:
        """Write, verify, flip, retire: the whole publish of one date from this process (or, as a
        ``candidate``, write and verify, without durable copies). Returns the new version and the
        number of keys it holds. An older day than the newest one published leaves out its
        ``meter_latest`` entries."""
        if not self.is_newest(run_date):
            entries = (entry for entry in entries if entry.family != METER_LATEST)
        durable = None if candidate else self.durable
        return self.publish_with(run_date, lambda version: self.writer.write(self.client, version, entries, durable),
                                 candidate=candidate)

    def publish_with(self, run_date: date, write: Callable[[str], int], candidate: bool = False) -> tuple[str, int]:
        """The same publish, with the keys written by ``write(version)`` (e.g. from Spark
        partitions), which returns how many it wrote: verify, flip and retire stay here. The
        caller leaves out ``meter_latest`` when ``is_newest(run_date)`` is false. A ``candidate``
        stops before the flip: its day's candidate pointer is set instead (a candidate it
        replaces expires), and the caller writes no durable copies (``promote`` does)."""
        self.check_servers()
        version = new_version(run_date)
        marker = publishing_key(version, self.prefix)
        self.client.set(marker, "1", ex=PUBLISHING_TTL_S)
        try:
            return self._complete(run_date, version, write(version), candidate)
        finally:
            self.client.delete(marker)

    def _complete(self, run_date: date, version: str, written: int, candidate: bool) -> tuple[str, int]:
        """Verify the written version, then flip it (or leave it a candidate)."""
        self.verify(version, written)
        if candidate:
            replaced = self.client.set(candidate_pointer_key(run_date.isoformat(), self.prefix), version, get=True,
                                       ex=self.pointer_ttl_s)
            log.info("stage=publish event=candidate day=%s candidate=%s replaced=%s", run_date, version, replaced)
            if replaced is not None:
                self.retire(replaced.decode())
            return version, written
        previous = self.flip(version)
        if previous and previous != version:
            self.retire(previous)
        return version, written

    def candidate(self, day: date) -> str | None:
        """The candidate version of ``day``, None when there is none."""
        value = self.client.get(candidate_pointer_key(day.isoformat(), self.prefix))
        return value.decode() if value is not None else None

    def copy_durable(self, version: str) -> int:
        """Send the durable copies of every entry of ``version`` (read back from Redis) to this
        publisher's sink, in batches; return how many entries were sent."""
        sent = 0
        for keys in _batches(self.keys_of(version), self.batch_size):
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
            batch = [CacheEntry(found[0], found[1], document.decode())
                     for key, document in zip(keys, pipe.execute())
                     if document is not None and (found := family_of(key.decode(), self.prefix)) is not None]
            self.durable.write(version, batch)
            sent += len(batch)
        return sent

    def promote(self, day: date) -> tuple[str, int]:
        """Make ``day``'s candidate live: its durable copies first (a failure leaves it a
        candidate), then the flip, the pointer dropped and the replaced version retired. Returns
        the version and the entries whose copies were sent."""
        version = self.candidate(day)
        if version is None:
            raise PublishError(f"{day}: no candidate version to promote")
        copied = self.copy_durable(version) if self.durable is not None else 0
        previous = self.flip(version)
        self.client.delete(candidate_pointer_key(day.isoformat(), self.prefix))
        if previous and previous != version:
            self.retire(previous)
        return version, copied

    def abort(self, day: date) -> str:
        """Drop ``day``'s candidate: its pointer now, its keys after the grace period (the canary
        pool may be reading them). Returns the version dropped."""
        version = self.client.getdel(candidate_pointer_key(day.isoformat(), self.prefix))
        if version is None:
            raise PublishError(f"{day}: no candidate version to abort")
        self.retire(version.decode())
        return version.decode()


def configured_publisher(client: RedisClient, conf: CacheConf, durable: DurableSink | None = None) -> CachePublisher:
    """The publisher of conf's ``cache`` section: TTLs, grace, batches, namespace."""
    return CachePublisher(client, ttl_s=conf.ttl_days * 86400, grace_s=conf.grace_s, batch_size=conf.batch_size,
                          prefix=conf.prefix, durable=durable,
                          family_ttl_s={name: days * 86400 for name, days in conf.family_ttl_days.items()})
