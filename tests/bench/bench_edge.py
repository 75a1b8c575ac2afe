"""The edge's benchmark: nginx (rendered from conf, started as `services up --edge` starts it)
in front of one `gridlake serve` (2 workers), against that same API alone, loaded by wrk in the
same run, alternating:

- cache hits: a feeder's day of random feeders, public and cached at the edge, through the
  edge over HTTPS against the API alone (target: at least 5 times);
- cache bypassed: a meter's day of random meters with a bearer token (never cached), through
  the edge against the API alone (the proxy's overhead; target: at least 0.8);
- the canary split: 10,000 clients at a canary share of 10% (target 10% +- 2%, each client
  always on the same side).

A meter's day cannot be the cache-hit case: it is personal, ``private, no-store``, and the edge
never caches a request with credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import httpx

from bench_api import CONNECTIONS, FIGURES, SECONDS, free_port, medians, wait_for, wrk

from jobs.api.app import key_digest
from jobs.devstack.edge_server import EdgeServer
from jobs.runtime.config import PROJECT_ROOT, load_settings
from jobs.stores.cache_versions import CacheEntry, CachePublisher
from jobs.stores.clients import open_redis
from schemas.cache_keys import AREA_DAILY, METER_DAILY

METERS, FEEDERS = 10_000, 200
DAY = date(2024, 5, 6)
PREFIX = "gridlake-bench-edge"
KEY = "bench-edge-key"
ROUNDS = int(os.environ.get("GRIDLAKE_BENCH_ROUNDS", "3"))
CANARY_PERCENT, CANARY_CLIENTS = 10, 10_000
REQUEST = """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format(PATH, math.random(1, COUNT)), HEADERS)
end
"""


def script(path: str, count: int, headers: str) -> Path:
    """A wrk script asking for ``path`` (a %07d / %03d pattern) of random ids 1..count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as out:
        out.write(REQUEST.replace("PATH", json.dumps(path)).replace("COUNT", str(count)).replace("HEADERS", headers))
    return Path(out.name)


def publish(client) -> None:  # noqa: ANN001
    """A day of METERS meters and FEEDERS feeders."""
    entries = []
    for n in range(1, METERS + 1):
        parts = {"meter_id": f"MTR-{n:07d}", "date": DAY.isoformat()}
        entries.append(CacheEntry(METER_DAILY, parts, METER_DAILY.document(parts, FIGURES)))
    for n in range(1, FEEDERS + 1):
        parts = {"level": "feeder", "area_id": f"FDR-{n:03d}", "date": DAY.isoformat()}
        entries.append(CacheEntry(AREA_DAILY, parts, AREA_DAILY.document(parts, {"kwh_import": f"{n * 10.5:.3f}",
                                                                                   "meter_count": "50"})))
    version, written = CachePublisher(client, ttl_s=3600, grace_s=5, prefix=PREFIX).publish(DAY, entries)
    print(f"published {written:,} keys as {version}", flush=True)


def canary_share(edge: EdgeServer, candidate: str, clients: int = CANARY_CLIENTS) -> tuple[float, bool]:
    """The share of ``clients`` distinct clients (a ``gridlake_client`` cookie each) that the edge
    sends to the candidate, and whether each of the first 500 lands on the same side again."""
    path = f"/v1/areas/feeder/FDR-001/days/{DAY}"
    with httpx.Client(base_url=edge.base_url, verify=edge.client_context(), timeout=10) as http:
        def side(n: int) -> bool:
            cookie = {"Cookie": f"gridlake_client=bench-{n}"}
            return http.get(path, headers=cookie).headers["X-Data-Version"] == candidate
        sides = [side(n) for n in range(clients)]
        stable = all(side(n) == sides[n] for n in range(500))
    return sum(sides) / clients, stable


def main() -> None:
    api_port, candidate_port = free_port(), free_port()
    state = tempfile.mkdtemp(prefix="gridlake-bench-edge-")
    os.environ.update({
        "GRIDLAKE_ENV": "local", "GRIDLAKE_STATE_DIR": state, "GRIDLAKE_CACHE__PREFIX": PREFIX,
        "GRIDLAKE_API__KEY_HASHES": json.dumps({key_digest(KEY): ["*"]}),
        "GRIDLAKE_EDGE__HTTPS_PORT": str(free_port()), "GRIDLAKE_EDGE__HTTP_PORT": str(free_port()),
        "GRIDLAKE_EDGE__LIVE_POOL": json.dumps([f"127.0.0.1:{api_port}"]),
        "GRIDLAKE_EDGE__CANDIDATE_POOL": json.dumps([f"127.0.0.1:{candidate_port}"]),
        "GRIDLAKE_EDGE__CANARY_PERCENT": str(CANARY_PERCENT),
        "GRIDLAKE_EDGE__RATE_PER_ADDRESS": "1000000", "GRIDLAKE_EDGE__RATE_PER_KEY": "1000000"})
    settings = load_settings()
    client = open_redis(settings.redis)
    publish(client)
    gridlake = str(Path(sys.executable).parent / "gridlake")
    api = subprocess.Popen([gridlake, "serve", "--port", str(api_port), "--workers", "2"], cwd=PROJECT_ROOT,
                           stdout=subprocess.PIPE, text=True)
    canary = subprocess.Popen([gridlake, "serve", "--port", str(candidate_port), "--workers", "1",
                               "--data-version", "candidate"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    edge = EdgeServer(settings)
    token = f'{{["Authorization"] = "Bearer {KEY}"}}'
    feeders = script(f"/v1/areas/feeder/FDR-%03d/days/{DAY}", FEEDERS, "{}")
    meters = script(f"/v1/meters/MTR-%07d/days/{DAY}", METERS, token)
    direct, through = f"http://127.0.0.1:{api_port}", edge.base_url
    cases = {"feeder day, API alone": (direct, feeders), "feeder day, edge cache hits": (through, feeders),
             "meter day, API alone": (direct, meters), "meter day, edge, cache bypassed": (through, meters)}
    try:
        wait_for(f"{direct}/healthz", api)
        wait_for(f"http://127.0.0.1:{candidate_port}/healthz", canary)
        edge.launch()
        edge.wait_ready(60)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
        for round_ in range(1, ROUNDS + 1):
            for name, (base, lua) in cases.items():
                rate, p50, p99 = wrk(base, lua)
                results[name].append((rate, p50, p99))
                print(f"round {round_} {name:32s} {rate:8,.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms",
                      flush=True)
        parts = {"level": "feeder", "area_id": "FDR-001", "date": DAY.isoformat()}
        candidate, _ = CachePublisher(client, ttl_s=3600, grace_s=5, prefix=PREFIX).publish(
            DAY, [CacheEntry(AREA_DAILY, parts, AREA_DAILY.document(parts, {"kwh_import": "1.000"}))], candidate=True)
        share, stable = canary_share(edge, candidate)
    finally:
        edge.stop()
        for server in (api, canary):
            server.terminate()
            server.wait(timeout=15)
        for key in client.scan_iter(match=f"{PREFIX}:*", count=5000):
            client.delete(key)
    rate, p99 = medians(results)
    print(f"the edge (nginx, HTTPS, wrk -c{CONNECTIONS} {SECONDS} s rounds), "
          f"medians of {ROUNDS} rounds:", flush=True)
    for name in cases:
        print(f"  {name:32s} {rate[name]:8,.0f} req/s  p99 {p99[name]:6.1f} ms", flush=True)
    print(f"  cache hits / API alone: {rate['feeder day, edge cache hits'] / rate['feeder day, API alone']:.1f} "
          f"(target 5); bypassed / API alone: "
          f"{rate['meter day, edge, cache bypassed'] / rate['meter day, API alone']:.2f} (target 0.8)", flush=True)
    print(f"canary {CANARY_PERCENT}%: {share:.2%} of {CANARY_CLIENTS:,} clients got the candidate (target "
          f"{CANARY_PERCENT}% +- 2%); each of 500 clients asked again landed on the same side: {stable}", flush=True)


if __name__ == "__main__":
    main()
