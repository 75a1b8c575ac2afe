"""Benchmark of the search index build and the cache publish, beside this machine's limits.

Measured in one run, on synthetic gold `meter_daily` rows built in Spark:
- index: documents/s of a whole versioned build from the gold frame (Spark rows to
  documents, streaming_bulk, refresh, checks, alias swap), beside a plain `parallel_bulk`
  of the very same documents already serialised (Elasticsearch's limit here);
- publish: keys/s of whole publishes (write, verify, flip) of the same meters' entries built
  from the gold frame (each meter's day and latest day, the top consumers per feeder and
  region), written from the Spark partitions as publish_aggregates does, write-behind (Redis
  Stream) and write-through (Cassandra), each for a new day (the nightly publish) and again
  for the same day (a rerun, which also retires the version it replaces); beside redis-py
  pipelining the very same payloads already serialised in the same batches (the client's
  limit, measured right before and after each publish; medians of five rounds, after a first
  publish that warms the session's JVM) and `redis-benchmark` SET with the
  same pipeline depth and value size (the server's ceiling: a key is one SET with its TTL);
  and write-through's other bound: the same entries' durable copies written into Cassandra by
  the connector alone, without Redis (one row per key of a family that has them: not
  `meter_latest`, whose misses read `meter_daily`'s copies).

    .venv/bin/python tests/bench/bench_index_publish.py [--meters 100000] [--batch-size 500] [--rounds 5] [--skip-index]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import time
from datetime import date, timedelta
from decimal import Decimal

from elasticsearch.helpers import parallel_bulk

from pyspark.sql import functions as F
from redis.utils import HIREDIS_AVAILABLE

from bench_support import drop
from jobs.stages.index import build
from jobs.transforms.search_documents import meter_day_id, readings_daily_documents
from jobs.stores.cache_versions import FAMILIES, CacheEntry
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client
from jobs.runtime.config import Settings, load_settings
from jobs.stages.publish import publish_day, write_durable_copies
from jobs.transforms.cache_entries import AREAS, cache_entries, durable_rows
from jobs.stores.search_indices import VersionedIndex
from jobs.runtime.spark import spark_session
from schemas.cache_keys import pointer_key
from schemas.gold import METER_DAILY as GOLD_METER_DAILY
from schemas.gold import METER_HOURLY as GOLD_METER_HOURLY

DAY = date(2024, 10, 27)
ALIAS = "bench-readings"
KEYSPACE = "grid_bench_publish"


def gold_rows(meters: int) -> list[dict]:
    rows = []
    for n in range(meters):
        row = {name: None for name in GOLD_METER_DAILY.names}
        row.update(meter_id=f"MTR-{n:07d}", date=DAY, meter_class="residential", feeder_id=f"FDR-{n % 50:04d}",
                   region="R-1", timezone="Europe/Tirane", interval_s=900, kwh_import=Decimal(n % 997) / 10,
                   peak_kw=Decimal("3.100"), intervals=100, intervals_expected=100, intervals_estimated=0,
                   completeness=Decimal("1.0000"))
        rows.append(row)
    return rows


def delete_versions(es, base: str) -> None:  # noqa: ANN001
    for name in es.indices.get(index=f"{base}-v*"):
        es.indices.delete(index=name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--skip-index", action="store_true", help="only the cache publish")
    parser.add_argument("--rounds", type=int, default=5, help="publishes per case (the median is reported)")
    parser.add_argument("--batch-size", type=int, default=None, help="pipeline batch (default: cache.batch_size)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings("local")
    args.batch_size = args.batch_size or settings.cache.batch_size
    spark = spark_session(settings, app_name="gridlake-bench-index-publish")
    gold = spark.createDataFrame(gold_rows(args.meters), GOLD_METER_DAILY.spark_schema()).cache()
    if not args.skip_index:
        index_bench(spark, settings, gold, args.meters)
    publish_bench(spark, settings, gold, args.batch_size, args.rounds)


def index_bench(spark, settings: Settings, gold, count: int) -> None:  # noqa: ANN001
    """Docs/s of a versioned index build from the gold frame, beside parallel_bulk of the same docs."""
    es = elasticsearch_client(settings)

    meters = spark.createDataFrame([], "meter_id string, lat double, lon double")
    frame = readings_daily_documents(gold, meters).cache()
    documents = [row.asDict(recursive=True) for row in frame.collect()]

    delete_versions(es, ALIAS)
    family = VersionedIndex(es, ALIAS, ALIAS, keep=1)
    started = time.perf_counter()
    build(family, frame, meter_day_id)
    index_rate = count / (time.perf_counter() - started)

    raw = "bench-raw-bulk"
    es.options(ignore_status=404).indices.delete(index=raw)
    es.indices.create(index=raw, settings={"number_of_replicas": 0, "refresh_interval": "-1"})
    serialised = [{"_index": raw, "_id": meter_day_id(doc), "_source": json.dumps(doc)} for doc in documents]
    started = time.perf_counter()
    for ok, _ in parallel_bulk(es, serialised, thread_count=2, chunk_size=1000):
        assert ok
    es.indices.refresh(index=raw)
    bulk_rate = count / (time.perf_counter() - started)
    es.indices.delete(index=raw)
    delete_versions(es, ALIAS)

    print(f"\nindex build from gold ({count:,} docs): {index_rate:,.0f} docs/s; plain parallel_bulk of "
          f"pre-serialised docs: {bulk_rate:,.0f} docs/s; ratio {index_rate / bulk_rate:.2f} (target >= 0.7)", flush=True)


def payloads(entries: list[CacheEntry], prefix: str) -> list[tuple[str, str]]:
    """The keys and documents of ``entries`` already serialised: what the client limit sends."""
    return [(entry.family.key("v-raw", prefix, **entry.parts), entry.value) for entry in entries]


def redis_py_limit(client, serialised: list[tuple[str, str]], batch_size: int) -> float:  # noqa: ANN001
    """keys/s of redis-py pipelining the pre-serialised payloads: same commands, same batches."""
    started = time.perf_counter()
    for offset in range(0, len(serialised), batch_size):
        pipe = client.pipeline(transaction=False)
        for key, document in serialised[offset:offset + batch_size]:
            pipe.set(key, document, ex=600)
        pipe.execute()
    return len(serialised) / (time.perf_counter() - started)


def server_limit(client, depth: int, value_bytes: int) -> float | None:  # noqa: ANN001
    """SET requests/s of `redis-benchmark` on the same server, pipeline depth and value size."""
    if not shutil.which("redis-benchmark"):
        return None
    kwargs = client.connection_pool.connection_kwargs
    argv = ["redis-benchmark", "-h", kwargs.get("host", "127.0.0.1"), "-p", str(kwargs.get("port", 6379)),
            "-t", "set", "-n", "400000", "-r", "1000000", "-P", str(depth), "-d", str(value_bytes), "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout
    rows = [line.split(",") for line in out.splitlines() if line.startswith('"SET')]
    return float(rows[-1][1].strip('"')) if rows else None


def unlink(client, keys: list[bytes]) -> None:  # noqa: ANN001
    """Delete ``keys``, 5,000 to a command."""
    for offset in range(0, len(keys), 5000):
        client.unlink(*keys[offset:offset + 5000])


def clear_namespace(client, prefix: str) -> None:  # noqa: ANN001
    """Delete every key of the bench's namespace: a run that was stopped leaves its live pointer
    on a later day, and a publish of an earlier day writes no meter_latest."""
    unlink(client, list(client.scan_iter(match=f"{prefix}:*", count=5000)))


def clear_all_but_live(client, prefix: str) -> None:  # noqa: ANN001
    """Delete the bench's keys except the live version and the pointers, and the write-behind
    stream: three versions of 100,000 meters would not fit a small local Redis."""
    live = client.get(pointer_key(prefix))
    keep = (pointer_key(prefix).encode(), *([f"{prefix}:{live.decode()}:".encode()] if live else []))
    unlink(client, [key for key in client.scan_iter(match=f"{prefix}:*", count=5000) if not key.startswith(keep)])


def entry_of(family: str, parts: dict, document: str) -> CacheEntry:
    """The CacheEntry of one entry row (the limit's payloads come from the same rows)."""
    return CacheEntry(FAMILIES[family], parts, document)


def durable_copies_limit(entries, settings: Settings, rounds: int) -> tuple[int, float]:  # noqa: ANN001
    """Write-through's Cassandra side alone: the same entries' durable copies written by the
    connector as the publish writes them, without Redis. Returns the rows (one per key of a
    family with durable copies) and the median seconds of ``rounds`` writes."""
    rows = durable_rows(entries, "v-durable-limit").count()
    times = []
    for round_ in range(rounds):
        started = time.perf_counter()
        write_durable_copies(entries, settings, f"v-durable-limit-{round_}", DAY,
                             tasks=entries.sparkSession.sparkContext.defaultParallelism)
        times.append(time.perf_counter() - started)
    return rows, sorted(times)[len(times) // 2]


def empty_frame(spark, table):  # noqa: ANN001, ANN201
    """An empty frame of ``table``'s columns, in no partitions. ``createDataFrame([])`` makes one
    partition per core and hands each to a Python worker, which cost every publish 0.6-0.8
    task-seconds of waiting that a publish from the lake does not have."""
    return spark.createDataFrame(spark.sparkContext.emptyRDD(), table.spark_schema())


def publish_bench(spark, settings: Settings, gold, batch_size: int, rounds: int) -> None:  # noqa: ANN001
    """Keys/s of whole publishes from the gold frame in each durable mode, beside the limits."""
    client = redis_client(settings)
    prefix = "gridlake-bench"
    empty_hours = empty_frame(spark, GOLD_METER_HOURLY)
    areas = {level: empty_frame(spark, table) for level, _, table in AREAS}
    entries = cache_entries(DAY, gold, empty_hours, areas, settings.cache.top_consumers)
    serialised = payloads([entry_of(*row) for row in entries.collect()], prefix)
    keys = len(serialised)
    scratch = settings.model_copy(deep=True)
    scratch.cassandra.keyspace = KEYSPACE
    scratch.cache.prefix = prefix
    scratch.cache.batch_size = batch_size
    scratch.cache.grace_s = 60

    def client_limit() -> float:
        clear_all_but_live(client, prefix)
        rate = redis_py_limit(client, serialised, batch_size)
        clear_all_but_live(client, prefix)
        return rate

    def publish_rate(day: date) -> float:
        day_gold = gold.withColumn("date", F.lit(day))
        started = time.perf_counter()
        _, written = publish_day(scratch, day, day_gold, empty_hours, areas)
        assert written == keys, (written, keys)
        return written / (time.perf_counter() - started)

    samples: dict[str, list[tuple[float, float]]] = {}  # (publish keys/s, redis-py limit beside it)
    clear_namespace(client, prefix)
    with cassandra_session(scratch) as session:
        apply_schema(session, scratch)
        # The session's first publish pays the JVM's warm-up (class loading, JIT): reported apart.
        scratch.cache.durable_mode = "write-behind"
        first = publish_rate(DAY - timedelta(days=1))
        for offset, mode in enumerate(("write-behind", "write-through")):
            scratch.cache.durable_mode = mode
            for round_ in range(rounds):
                day = DAY + timedelta(days=offset * rounds + round_)  # not published yet: nothing to retire
                # The machine is shared: the client's limit is measured right before and after
                # each publish, and the publish is compared with the mean of the two.
                before = client_limit()
                new_day = publish_rate(day)
                between = client_limit()
                rerun = publish_rate(day)
                after = client_limit()
                samples.setdefault(f"{mode}, a new day", []).append((new_day, (before + between) / 2))
                samples.setdefault(f"{mode}, the day rerun", []).append((rerun, (between + after) / 2))
        durable_copies, durable_s = durable_copies_limit(entries, scratch, rounds)
    drop(scratch)
    clear_namespace(client, prefix)
    value_bytes = round(sum(len(document) for _, document in serialised) / len(serialised))
    server_keys = server_limit(client, depth=batch_size, value_bytes=value_bytes)

    print(f"cache publish from gold ({keys:,} keys, batches of {batch_size}, one SET per key, "
          f"hiredis {'on' if HIREDIS_AVAILABLE else 'off'}; medians of {rounds} in a running session, whose "
          f"first publish, write-behind, took {keys / first:.1f} s = {first:,.0f} keys/s):")
    for case, pairs in samples.items():
        by_ratio = sorted(pairs, key=lambda pair: pair[0] / pair[1])
        rate, client_rate = by_ratio[len(pairs) // 2]
        spread = "-".join(f"{publish / limit:.2f}" for publish, limit in (by_ratio[0], by_ratio[-1]))
        ratios = f"publish/redis-py {rate / client_rate:.2f} (rounds {spread})"
        if server_keys:
            ratios += f", publish/redis-benchmark {rate / server_keys:.2f}"
        print(f"  {case:>28}: {rate:>9,.0f} keys/s; redis-py pipeline of the same payloads pre-serialised "
              f"beside it {client_rate:,.0f} keys/s ({ratios})")
    through = sorted(rate for rate, _ in samples["write-through, a new day"])[rounds // 2]
    print(f"  the durable copies alone, written by the connector as write-through does: {durable_copies:,} rows "
          f"in {durable_s:.1f} s = {durable_copies / durable_s:,.0f} rows/s, a bound of {keys / durable_s:,.0f} "
          f"keys/s on write-through (its publish of a new day / this bound: {through * durable_s / keys:.2f})")
    if server_keys:
        print(f"  redis-benchmark SET -P {batch_size} -d {value_bytes}: {server_keys:,.0f} requests/s = keys/s")


if __name__ == "__main__":
    main()
