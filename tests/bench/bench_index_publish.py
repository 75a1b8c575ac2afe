"""Benchmark of the search index build and the cache publish, beside this machine's limits.

Measured in one run, on synthetic gold `meter_daily` rows built in Spark:
- index: documents/s of a whole versioned build from the gold frame (Spark rows to
  documents, streaming_bulk, refresh, checks, alias swap), beside a plain `parallel_bulk`
  of the very same documents already serialised (Elasticsearch's limit here);
- publish: keys/s of CachePublisher.write of the same meters' day entries, without and with
  write-through to Cassandra, beside redis-py pipelining the same HSETs pre-built (the
  client's limit) and `redis-benchmark` (the server's own ceiling).

    .venv/bin/python tests/bench/bench_index_publish.py [--meters 100000]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import time
from datetime import date
from decimal import Decimal

from elasticsearch.helpers import parallel_bulk

from jobs.build_search_index import build, meter_day_id, readings_daily_documents
from jobs.cache_durable import DurableCopies
from jobs.cache_publish import CacheEntry, CachePublisher
from jobs.cassandra_schema import apply_schema
from jobs.clients import cassandra_session, elasticsearch_client, redis_client
from jobs.config import load_settings
from jobs.search_index import VersionedIndex
from jobs.spark import spark_session
from schemas.cache_keys import METER_DAILY
from schemas.gold import METER_DAILY as GOLD_METER_DAILY

DAY = date(2024, 10, 27)
ALIAS = "bench-readings"


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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings("local")
    spark = spark_session(settings, app_name="gridlake-bench-index-publish")
    es = elasticsearch_client(settings)

    gold = spark.createDataFrame(gold_rows(args.meters), GOLD_METER_DAILY.spark_schema()).cache()
    meters = spark.createDataFrame([], "meter_id string, lat double, lon double")
    frame = readings_daily_documents(gold, meters).cache()
    documents = [row.asDict(recursive=True) for row in frame.collect()]

    delete_versions(es, ALIAS)
    family = VersionedIndex(es, ALIAS, ALIAS, keep=1)
    started = time.perf_counter()
    build(family, frame, meter_day_id)
    index_rate = args.meters / (time.perf_counter() - started)

    raw = "bench-raw-bulk"
    es.options(ignore_status=404).indices.delete(index=raw)
    es.indices.create(index=raw, settings={"number_of_replicas": 0, "refresh_interval": "-1"})
    serialised = [{"_index": raw, "_id": meter_day_id(doc), "_source": json.dumps(doc)} for doc in documents]
    started = time.perf_counter()
    for ok, _ in parallel_bulk(es, serialised, thread_count=2, chunk_size=1000):
        assert ok
    es.indices.refresh(index=raw)
    bulk_rate = args.meters / (time.perf_counter() - started)
    es.indices.delete(index=raw)
    delete_versions(es, ALIAS)

    client = redis_client(settings)
    entries = [CacheEntry(METER_DAILY, {"meter_id": doc["meter_id"], "date": doc["date"]},
                          {k: v for k, v in doc.items() if k.startswith(("kwh", "peak", "completeness")) and v})
               for doc in documents]
    prefix = "gridlake-bench"
    publisher = CachePublisher(client, ttl_s=600, grace_s=60, prefix=prefix)
    started = time.perf_counter()
    publisher.write("v-bench", entries)
    publish_rate = len(entries) / (time.perf_counter() - started)

    with cassandra_session(settings) as session:
        apply_schema(session, settings)
        through = CachePublisher(client, ttl_s=600, grace_s=60, prefix=prefix,
                                 durable=DurableCopies(session, settings.cassandra.keyspace))
        started = time.perf_counter()
        through.write("v-bench-through", entries)
        through_rate = len(entries) / (time.perf_counter() - started)

    prebuilt = [(METER_DAILY.key("v-raw", prefix, **e.parts), {k: str(v) for k, v in e.value.items()})
                for e in entries]
    started = time.perf_counter()
    for offset in range(0, len(prebuilt), 500):
        pipe = client.pipeline(transaction=False)
        for key, mapping in prebuilt[offset:offset + 500]:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, 600)
        pipe.execute()
    pipeline_rate = len(prebuilt) / (time.perf_counter() - started)
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        client.delete(key)

    server = "n/a (redis-benchmark not found)"
    if shutil.which("redis-benchmark"):
        port = str(client.connection_pool.connection_kwargs.get("port", 6379))
        out = subprocess.run(["redis-benchmark", "-p", port, "-t", "hset", "-n", "200000", "-P", "32", "-q"],
                             capture_output=True, text=True, timeout=300).stdout
        server = out.strip().splitlines()[-1] if out.strip() else "no output"

    print(f"\nindex build from gold ({args.meters:,} docs): {index_rate:,.0f} docs/s; plain parallel_bulk of "
          f"pre-serialised docs: {bulk_rate:,.0f} docs/s; ratio {index_rate / bulk_rate:.2f} (target >= 0.7)")
    print(f"cache publish: {publish_rate:,.0f} keys/s; write-through to Cassandra: {through_rate:,.0f} keys/s; "
          f"redis-py pipeline of pre-built HSETs: {pipeline_rate:,.0f} keys/s; ratio {publish_rate / pipeline_rate:.2f}")
    print(f"redis-benchmark (server ceiling): {server}")


if __name__ == "__main__":
    main()
