"""Write-behind against the real Redis and Cassandra: a worker killed mid-batch loses nothing."""

import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psutil
import pytest

from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, new_version
from jobs.stores.cache_writeback import WriteBehindQueue, WriteBehindWorker, dead_letter_key, stream_key
from jobs.devstack.redis_server import RedisServer
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, redis_client
from jobs.runtime.config import Settings
from schemas.cache_keys import METER_DAILY, KeyFamily

KEYSPACE = "grid_writeback_test"
PREFIX = "gridlake-writeback-test"
ENTRIES = 3000
BATCH = 100
VERSION = new_version(date(2024, 10, 27))


@pytest.fixture
def scratch(services: Settings) -> Iterator[Settings]:
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = KEYSPACE
    settings.cache.prefix = PREFIX
    client = redis_client(settings)
    client.delete(stream_key(PREFIX), dead_letter_key(PREFIX))
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
    yield settings
    client.delete(stream_key(PREFIX), dead_letter_key(PREFIX))
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")


def stored_rows(settings: Settings) -> int:
    with cassandra_session(settings) as session:
        return session.execute(f"SELECT count(*) FROM {KEYSPACE}.cache_entries").one()[0]


def kill_holding_entries(worker: subprocess.Popen, client) -> int:  # noqa: ANN001
    """SIGKILL ``worker`` while it holds entries it has not acknowledged, and return how many.
    It is frozen (SIGSTOP) before its pending entries are looked at, so it cannot acknowledge
    them between the look and the kill; it resumes for a moment when it holds none."""
    while worker.poll() is None:
        worker.send_signal(signal.SIGSTOP)
        held = client.xpending_range(stream_key(PREFIX), "writers", min="-", max="+", count=100,
                                     consumername="doomed")
        if held:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            return len(held)
        worker.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("the worker finished before it could be killed holding entries")


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(scratch: Settings) -> None:
    client = redis_client(scratch)
    def meter_day(n: int) -> CacheEntry:
        parts = {"meter_id": f"M-{n:05d}", "date": "2024-10-27"}
        return CacheEntry(METER_DAILY, parts, METER_DAILY.document(parts, {"kwh_import": n / 8}))

    entries = [meter_day(n) for n in range(ENTRIES)]
    queue = WriteBehindQueue(client, PREFIX)
    for start in range(0, ENTRIES, BATCH):  # as a publish queues them: one stream entry per batch
        queue.write(VERSION, entries[start:start + BATCH])

    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
           "GRIDLAKE_CACHE__PREFIX": PREFIX}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "gridlake"), "writeback", "run", "--once",
                               "--name", "doomed", "--batch", "2"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored_rows(scratch) < ENTRIES // 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    held = kill_holding_entries(worker, client)
    written_before_the_kill = stored_rows(scratch)
    assert 0 < written_before_the_kill < ENTRIES, "the worker must die mid-stream"

    with cassandra_session(scratch) as session:
        survivor = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "survivor", prefix=PREFIX,
                                     claim_idle_ms=0)
        report = survivor.drain(block_ms=100)
        value = session.execute(f"SELECT value FROM {KEYSPACE}.cache_entries WHERE family = 'meter_daily' "
                                "AND month = '2024-10' AND bucket = %s AND tag = 'M-02999' AND item = '2024-10-27'",
                                (zlib.crc32(b"M-02999") % 256,)).one().value
    assert report.reclaimed == held > 0, "the dead worker's unacknowledged batches are taken over"
    assert stored_rows(scratch) == ENTRIES
    assert value == '{"meter_id":"M-02999","date":"2024-10-27","figures":{"kwh_import":374.875}}'
    assert client.xpending(stream_key(PREFIX), "writers")["pending"] == 0
    assert client.xlen(stream_key(PREFIX)) == 0, "every batch written is trimmed from the stream"


def test_the_stream_keeps_what_is_not_yet_acknowledged_and_drops_the_rest(scratch: Settings) -> None:
    """Two workers: one reads a batch and holds it (pending), the other drains the rest. The
    trim leaves the held batch and everything after it, and drops only what came before."""
    client = redis_client(scratch)
    queue = WriteBehindQueue(client, PREFIX)
    entries = [CacheEntry(METER_DAILY, {"meter_id": f"M-{n}", "date": "2024-10-27"},
                          METER_DAILY.document({"meter_id": f"M-{n}", "date": "2024-10-27"}, {"kwh_import": n}))
               for n in range(4)]
    ids = []
    with cassandra_session(scratch) as session:
        first = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "first", prefix=PREFIX, batch=1)
        for entry in entries[:2]:
            queue.write(VERSION, [entry])
            ids.append(client.xrevrange(stream_key(PREFIX), count=1)[0][0])
        first.drain(block_ms=100)  # both written and acknowledged
        queue.write(VERSION, [entries[2]])
        held = client.xreadgroup("writers", "holder", {stream_key(PREFIX): ">"}, count=1)[0][1][0][0]
        queue.write(VERSION, [entries[3]])
        report = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "second", prefix=PREFIX,
                                   claim_idle_ms=60_000).drain(block_ms=100)
    remaining = [entry_id for entry_id, _ in client.xrange(stream_key(PREFIX))]
    assert report.trimmed == 0, "the first drain already trimmed what it acknowledged"
    assert remaining[0] == held and ids[0] not in remaining and ids[1] not in remaining
    assert len(remaining) == 2, "the held batch and the one drained after it wait for the held one"
    assert client.xpending(stream_key(PREFIX), "writers")["pending"] == 1


def test_queued_copies_survive_a_redis_killed_and_restarted(scratch: Settings, tmp_path: Path) -> None:
    """A Redis of the test's own, killed (SIGKILL, by its pid) with batches queued and not yet
    drained: restarted, it still holds them (its append-only file), and a drain writes every one."""
    own = scratch.model_copy(deep=True)
    own.state_dir = tmp_path / "state"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        own.redis.url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    server = RedisServer(own)
    server.launch()
    try:
        server.wait_ready(30)
        entries = [CacheEntry(METER_DAILY, {"meter_id": f"M-{n:03d}", "date": "2024-10-27"},
                              METER_DAILY.document({"meter_id": f"M-{n:03d}", "date": "2024-10-27"}, {"kwh_import": n}))
                   for n in range(300)]
        queue = WriteBehindQueue(redis_client(own), PREFIX)
        for start in range(0, 300, BATCH):
            queue.write(VERSION, entries[start:start + BATCH])
        time.sleep(1.5)  # the append-only file is synced every second
        pid = server.process.pid()
        os.kill(pid, signal.SIGKILL)
        psutil.Process(pid).wait(timeout=10)
        server.launch()
        server.wait_ready(30)
        client = redis_client(own)
        assert client.xlen(stream_key(PREFIX)) == 300 // BATCH, "every queued batch is still there"
        with cassandra_session(own) as session:
            report = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "after-restart",
                                       prefix=PREFIX).drain(block_ms=100)
        assert report.written == 300 and stored_rows(own) == 300
    finally:
        server.stop()


def test_a_reclaimed_older_batch_never_overwrites_a_newer_versions_copy(scratch: Settings) -> None:
    """The older version's batch is held by a worker that stalls; the newer one's is drained;
    the stalled batch is then reclaimed and written last."""
    client = redis_client(scratch)
    queue = WriteBehindQueue(client, PREFIX)
    parts = {"meter_id": "M-1", "date": "2024-10-27"}
    older = new_version(date(2024, 10, 27))
    time.sleep(0.002)  # published a moment later (two publishes in one millisecond have no order)
    newer = new_version(date(2024, 10, 27))
    with cassandra_session(scratch) as session:
        copies = DurableCopies(session, KEYSPACE)
        live = WriteBehindWorker(client, copies, "live", prefix=PREFIX, claim_idle_ms=60_000)
        queue.write(older, [CacheEntry(METER_DAILY, parts, METER_DAILY.document(parts, {"kwh_import": "1.000"}))])
        client.xreadgroup("writers", "stalled", {stream_key(PREFIX): ">"}, count=1)
        queue.write(newer, [CacheEntry(METER_DAILY, parts, METER_DAILY.document(parts, {"kwh_import": "2.000"}))])
        live.drain(block_ms=100)
        assert '"2.000"' in copies.read(METER_DAILY, parts)
        time.sleep(0.05)
        reclaimed = WriteBehindWorker(client, copies, "reclaimer", prefix=PREFIX, claim_idle_ms=1).drain(block_ms=100)
        assert reclaimed.reclaimed == 1 and reclaimed.written == 1, "the stalled batch was written, after the newer"
        assert '"2.000"' in copies.read(METER_DAILY, parts), "the newer version's copy stays"



def test_an_entry_that_keeps_failing_goes_to_the_dead_letter_stream(scratch: Settings) -> None:
    client = redis_client(scratch)
    broken = KeyFamily("meter_daily", METER_DAILY.pattern, "figures", "a family whose parts lack the tag",
                       tag_parts=("meter_id",), item_parts=("date",))
    WriteBehindQueue(client, PREFIX).write(VERSION, [CacheEntry(broken, {"date": "2024-10-27"}, '{"kwh": 1}')])
    with cassandra_session(scratch) as session:
        worker = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "w", prefix=PREFIX,
                                   max_deliveries=1, backoff_s=0)
        report = worker.drain(block_ms=100)
    dead = client.xrange(dead_letter_key(PREFIX))
    assert (report.written, report.dead) == (0, 1)
    assert len(dead) == 1 and dead[0][1][b"error"].startswith(b"KeyError")
    assert client.xpending(stream_key(PREFIX), "writers")["pending"] == 0


def test_dead_lettered_copies_replayed_after_the_fault_is_fixed_arrive_once(scratch: Settings) -> None:
    """Cassandra refuses the batch (its table is gone) until it is dead-lettered; the table is
    made again, `gridlake writeback replay` puts the batch back, a drain writes it."""
    client = redis_client(scratch)
    entries = [CacheEntry(METER_DAILY, {"meter_id": f"M-{n}", "date": "2024-10-27"},
                          METER_DAILY.document({"meter_id": f"M-{n}", "date": "2024-10-27"}, {"kwh_import": n}))
               for n in range(5)]
    WriteBehindQueue(client, PREFIX).write(VERSION, entries)
    with cassandra_session(scratch) as session:
        worker = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "w", prefix=PREFIX,
                                   max_deliveries=1, backoff_s=0)
        session.execute(f"DROP TABLE {KEYSPACE}.cache_entries")
        assert worker.drain(block_ms=100).dead == 1
        apply_schema(session, scratch)
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CACHE__PREFIX": PREFIX,
           "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE}
    replayed = subprocess.run([str(Path(sys.executable).parent / "gridlake"), "writeback", "replay"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0 and "put 1 dead-lettered batches back" in replayed.stdout, replayed.stderr
    assert client.xlen(dead_letter_key(PREFIX)) == 0
    with cassandra_session(scratch) as session:
        report = WriteBehindWorker(client, DurableCopies(session, KEYSPACE), "w", prefix=PREFIX).drain(block_ms=100)
    assert report.written == 5 and stored_rows(scratch) == 5
