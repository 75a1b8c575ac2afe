"""Serving API benchmark: a meter's day for random meters of a 10,000-meter set, through
`gridlake serve` as configured by default (entries kept in each worker), with every read going
to Redis, and with memcached in front of Redis, beside the same server stack answering a
constant payload of the same size (its ceiling), all loaded by wrk from Debian in the same
run, alternating. Then a Green Button feed of one meter and one month.

Prints requests/s, p50 and p99 latency of each round, memcached's hit rate, each case's ratio
to the ceiling (medians), and the feed's build time (median of 20 requests).
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from jobs.api.app import key_digest
from jobs.runtime.config import PROJECT_ROOT, load_settings
from jobs.stores.cache_versions import CacheEntry, CachePublisher
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, open_redis
from jobs.stores.hot_keys import server_stats
from schemas.cache_keys import METER_DAILY, METER_HOURLY, KeyFamily

METERS = 10_000
DAY = date(2024, 5, 6)
PREFIX = "gridlake-bench-api"
KEYSPACE = "bench_api"
FEED_START = date(2024, 4, 1)
FEED_DAYS = 30
KEY = "bench-operator-key"
WORKERS = 2
CONNECTIONS = 32
SECONDS = 12
ROUNDS = int(os.environ.get("GRIDLAKE_BENCH_ROUNDS", "3"))
#: The figures of a meter's day as the publish writes them (jobs/transforms/cache_entries.py METER_FIGURES).
FIGURES = {"kwh_import": "12.345", "kwh_export": "0.000", "peak_kw": "2.512", "peak_at": "2024-05-06T18:15:00",
           "load_factor": "0.205", "voltage_min_v": "221.4", "voltage_mean_v": "229.8", "voltage_max_v": "236.1",
           "estimated_share": "0.010", "completeness": "1.000"}
LUA = """
math.randomseed(os.time())
request = function()
  local path = string.format("/v1/meters/MTR-%07d/days/2024-05-06", math.random(1, METERS))
  return wrk.format("GET", path, {["Authorization"] = "Bearer KEY"})
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stdout.read() if server.stdout else ''}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within 60 s")


def wrk(base_url: str, script: Path) -> tuple[float, float, float]:
    """requests/s, p50 and p99 in ms of one wrk round (one thread: the two cores serve the API)."""
    done = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script),
                           base_url], capture_output=True, text=True, check=True)
    out = done.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), ms("50%"), ms("99%")


def medians(results: dict[str, list[tuple[float, float, float]]]) -> tuple[dict[str, float], dict[str, float]]:
    """The median requests/s and p99 of each case's rounds (``wrk``'s results)."""
    return ({name: statistics.median(r for r, _, _ in rounds) for name, rounds in results.items()},
            {name: statistics.median(p for _, _, p in rounds) for name, rounds in results.items()})


def main() -> None:
    settings = load_settings("local")
    settings.cassandra.keyspace = KEYSPACE
    with cassandra_session(settings) as session:
        apply_schema(session, settings)
    client = open_redis(settings.redis)

    def entry(family: KeyFamily, parts: dict[str, str], value: dict[str, str]) -> CacheEntry:
        return CacheEntry(family, parts, family.document(parts, value))

    entries = [entry(METER_DAILY, {"meter_id": f"MTR-{n:07d}", "date": DAY.isoformat()}, FIGURES)
               for n in range(1, METERS + 1)]
    version, written = CachePublisher(client, ttl_s=3600, grace_s=5, prefix=PREFIX).publish(DAY, entries)
    print(f"published {written:,} meter days as {version}", flush=True)

    env = {**os.environ, "GRIDLAKE_ENV": "local", "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE,
           "GRIDLAKE_CACHE__PREFIX": PREFIX, "GRIDLAKE_API__KEY_HASHES": json.dumps({key_digest(KEY): ["*"]})}
    feed_days = [FEED_START + timedelta(days=n) for n in range(FEED_DAYS)]
    hourly = [entry(METER_HOURLY, {"meter_id": "MTR-0000001", "date": day.isoformat()},
                    {f"{hour:02d}": f"{0.2 + hour / 100:.3f}" for hour in range(24)}) for day in feed_days]
    for hours in hourly:  # a month of one meter's hours, a publish per day as the pipeline does
        CachePublisher(client, ttl_s=3600, grace_s=5, prefix=PREFIX).publish(date.fromisoformat(hours.parts["date"]),
                                                                             [hours])
    gridlake = str(Path(sys.executable).parent / "gridlake")
    memcached = f"127.0.0.1:{settings.services.memcached.port}"
    # The API as configured by default (entries kept in each worker), then with each read going
    # to Redis, then to memcached in front of Redis.
    cases = {"api": {}, "redis only": {"GRIDLAKE_API__WORKER_ENTRIES": "0"},
             "memcached": {"GRIDLAKE_API__WORKER_ENTRIES": "0", "GRIDLAKE_API__MEMCACHED": memcached}}
    ports = {name: free_port() for name in [*cases, "ceiling"]}
    servers = {name: subprocess.Popen([gridlake, "serve", "--port", str(ports[name]), "--workers", str(WORKERS)],
                                      env={**env, **extra}, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
               for name, extra in cases.items()}
    base = f"http://127.0.0.1:{ports['api']}"
    try:
        for name, server in servers.items():
            wait_for(f"http://127.0.0.1:{ports[name]}/healthz", server)
        feed_times = []
        for _ in range(20):
            started = time.perf_counter()
            feed = httpx.get(f"{base}/espi/1_1/resource/Batch/UsagePoint/MTR-0000001",
                             params={"start": str(FEED_START), "end": str(FEED_START + timedelta(days=FEED_DAYS - 1))},
                             headers={"Authorization": f"Bearer {KEY}"})
            feed_times.append((time.perf_counter() - started) * 1000)
            assert feed.status_code == 200 and feed.content.count(b"<espi:IntervalReading>") == 24 * FEED_DAYS
        sample = httpx.get(f"{base}/v1/meters/MTR-0000001/days/{DAY}",
                           headers={"Authorization": f"Bearer {KEY}"}).content
        servers["ceiling"] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.bench.api_ceiling:app", "--port", str(ports["ceiling"]),
             "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log"],
            env={**env, "GRIDLAKE_BENCH_PAYLOAD": sample.decode()}, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
            text=True)
        wait_for(f"http://127.0.0.1:{ports['ceiling']}/v1/meters/x/days/y", servers["ceiling"])
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA.replace("METERS", str(METERS)).replace("KEY", KEY))
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in ports}
        stats = memcached_stats(memcached)
        for round_ in range(1, ROUNDS + 1):
            for name, port in ports.items():
                rate, p50, p99 = wrk(f"http://127.0.0.1:{port}", Path(script.name))
                results[name].append((rate, p50, p99))
                print(f"round {round_} {name:10s} {rate:8,.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms",
                      flush=True)
        after = memcached_stats(memcached)
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=15)
        for key in client.scan_iter(match=f"{PREFIX}:*", count=5000):
            client.delete(key)
    rate, p99 = medians(results)
    hits, misses = (after[k] - stats[k] for k in ("get_hits", "get_misses"))
    print(f"a meter's day (payload {len(sample)} B), medians of {ROUNDS} rounds; target 0.5 of the ceiling "
          "and 3,000 req/s:", flush=True)
    for name in ports:
        note = f", memcached hit rate {hits / max(1, hits + misses):.2f}" if name == "memcached" else ""
        print(f"  {name:10s} {rate[name]:8,.0f} req/s  p99 {p99[name]:6.1f} ms  / ceiling "
              f"{rate[name] / rate['ceiling']:.2f}{note}", flush=True)
    print(f"green button feed, one meter, {FEED_DAYS} days: median {statistics.median(feed_times):.1f} ms over HTTP "
          f"(target 100 ms)", flush=True)


def memcached_stats(server: str) -> dict[str, int]:
    return {key: int(value) for key, value in server_stats(server).items() if key in ("get_hits", "get_misses")}


if __name__ == "__main__":
    main()
