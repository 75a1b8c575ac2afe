"""The edge as a client meets it: Debian's nginx rendered from conf, started by gridlake on
loopback in front of real API instances (two live, one candidate) over the real Redis and
Cassandra, with figures published by the real publisher."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import redis

from jobs.api.app import key_digest
from jobs.devstack import services_up
from jobs.devstack.api_server import ApiServer
from jobs.devstack.edge_server import EdgeServer
from jobs.runtime.config import Settings, load_settings
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, CachePublisher
from jobs.stores.clients import cassandra_session, open_redis
from schemas.cache_keys import AREA_DAILY, METER_DAILY, METER_HOURLY, day_pointer_key

PREFIX = "gridlake-edge-test"
KEYSPACE = "gridlake_edge_test"
DAY = date(2024, 10, 26)
#: API keys of MTR-A, one per test that sends a token: the per-key limit counts each apart.
HOUSEHOLD_KEY, UNCACHED_KEY, RATE_KEY = "edge-household-key", "edge-uncached-key", "edge-rate-key"
ORIGIN = "https://portal.example"
CANARY_PERCENT = 10
#: The per-key limit the 429 test runs into; per address the edge allows far more.
KEY_RATE, KEY_BURST = 5, 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def day_entries(day: date, kwh: float) -> list[CacheEntry]:
    """A feeder's day and one meter's day and hours."""
    iso = day.isoformat()
    feeder = {"level": "feeder", "area_id": "FDR-1", "date": iso}
    meter = {"meter_id": "MTR-A", "date": iso}
    return [CacheEntry(AREA_DAILY, feeder, AREA_DAILY.document(feeder, {"kwh_import": f"{kwh:.3f}"})),
            CacheEntry(METER_DAILY, meter, METER_DAILY.document(meter, {"kwh_import": f"{kwh / 10:.3f}"})),
            CacheEntry(METER_HOURLY, meter, METER_HOURLY.document(meter, {"00": "0.250", "01": "0.500"}))]


@dataclass
class Edge:
    settings: Settings
    env: dict[str, str]
    server: EdgeServer
    live: list[ApiServer]
    client: redis.Redis

    @property
    def base(self) -> str:
        return self.server.base_url

    def http(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.server.client_context(), timeout=10, **kwargs)

    def publish(self, day: date, kwh: float, candidate: bool = False) -> str:
        with cassandra_session(self.settings) as session:
            publisher = CachePublisher(self.client, ttl_s=3600, grace_s=5, prefix=PREFIX,
                                       durable=DurableCopies(session, KEYSPACE))
            version, _ = publisher.publish(day, day_entries(day, kwh), candidate=candidate)
        return version

    def gridlake(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).parent / "gridlake"), *args], env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def edge(services: Settings, fresh_keyspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:  # noqa: ANN001
    """The edge and its pools in a state directory of their own, on free ports, configured
    through the environment as an operator would (the API instances read the same)."""
    fresh_keyspace(KEYSPACE)
    live_ports, candidate_port = [free_port(), free_port()], free_port()
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_STATE_DIR": str(tmp_path_factory.mktemp("edge-state")),
           "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE, "GRIDLAKE_CACHE__PREFIX": PREFIX,
           "GRIDLAKE_API__WORKERS": "1", "GRIDLAKE_API__WORKER_ENTRIES": "0",
           "GRIDLAKE_API__KEY_HASHES": json.dumps({key_digest(key): ["MTR-A"]
                                                   for key in (HOUSEHOLD_KEY, UNCACHED_KEY, RATE_KEY)}),
           "GRIDLAKE_EDGE__HTTPS_PORT": str(free_port()), "GRIDLAKE_EDGE__HTTP_PORT": str(free_port()),
           "GRIDLAKE_EDGE__LIVE_POOL": json.dumps([f"127.0.0.1:{port}" for port in live_ports]),
           "GRIDLAKE_EDGE__CANDIDATE_POOL": json.dumps([f"127.0.0.1:{candidate_port}"]),
           "GRIDLAKE_EDGE__CANARY_PERCENT": str(CANARY_PERCENT), "GRIDLAKE_EDGE__CORS_ORIGINS": json.dumps([ORIGIN]),
           "GRIDLAKE_EDGE__RATE_PER_ADDRESS": "5000", "GRIDLAKE_EDGE__RATE_PER_KEY": str(KEY_RATE),
           "GRIDLAKE_EDGE__BURST": str(KEY_BURST)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        settings = load_settings()
        live = [ApiServer(settings, "127.0.0.1", port, "live") for port in live_ports]
        candidate = ApiServer(settings, "127.0.0.1", candidate_port, "candidate")
        server = EdgeServer(settings)
        client = open_redis(settings.redis)
        ready = Edge(settings, env, server, live, client)
        ready.publish(DAY, kwh=100.0)
        try:
            services_up([*live, candidate, server], timeout_s=120)
            yield ready
        finally:
            for service in (server, candidate, *live):
                service.stop()
            for key in client.scan_iter(match=f"{PREFIX}:*"):
                client.delete(key)
            client.close()


def test_http_is_redirected_and_https_speaks_http2_with_hsts(edge: Edge) -> None:
    plain = httpx.get(f"http://127.0.0.1:{edge.settings.edge.http_port}/v1/areas/feeder/FDR-1/days/{DAY}")
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"{edge.base}/v1/areas/feeder/FDR-1/days/{DAY}"
    context = edge.server.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", edge.settings.edge.https_port)) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.selected_alpn_protocol() == "h2"
    with edge.http() as http:
        assert http.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{edge.base}/healthz", verify=ssl.create_default_context())  # not a certificate anyone trusts


def test_public_figures_are_cached_at_the_edge_and_equal_the_apis(edge: Edge) -> None:
    path = f"/v1/areas/feeder/FDR-1/days/{DAY}"
    direct = httpx.get(f"http://{edge.settings.edge.live_pool[0]}{path}")
    with edge.http() as http:
        first, second = http.get(path), http.get(path)
    assert first.content == second.content == direct.content
    assert first.headers["X-Cache-Status"] in ("MISS", "EXPIRED") and second.headers["X-Cache-Status"] == "HIT"
    assert second.headers["Cache-Control"] == direct.headers["Cache-Control"]


def test_routes_by_path_and_by_content(edge: Edge) -> None:
    token = {"Authorization": f"Bearer {HOUSEHOLD_KEY}"}
    with edge.http() as http:
        feed = http.get(f"/espi/1_1/resource/Batch/UsagePoint/MTR-A?start={DAY}&end={DAY}", headers=token)
        by_accept = http.get(f"/v1/meters/MTR-A/days/{DAY}", headers={**token, "Accept": "application/atom+xml"})
        as_json = http.get(f"/v1/meters/MTR-A/days/{DAY}", headers=token)
        docs, schema = http.get("/docs"), http.get("/openapi.json")
        unknown = http.get("/wp-admin")
    assert feed.status_code == by_accept.status_code == 200
    assert by_accept.headers["Content-Type"].startswith("application/atom+xml")
    readings = re.compile(r"<(\w+:)?IntervalReading[ >]")
    assert len(readings.findall(by_accept.text)) == len(readings.findall(feed.text)) == 2
    assert as_json.json()["figures"] == {"kwh_import": "10.000"}
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert docs.headers["Cache-Control"] == schema.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert f"/v1/areas/{{level}}/{{area_id}}/days/{{day}}" in schema.json()["paths"]
    assert unknown.status_code == 404 and unknown.headers["Content-Type"] == "application/problem+json"


def test_what_carries_credentials_or_a_cookie_is_never_cached(edge: Edge) -> None:
    token = {"Authorization": f"Bearer {UNCACHED_KEY}"}
    with edge.http() as http:
        personal = [http.get(f"/v1/meters/MTR-A/days/{DAY}", headers=token) for _ in range(2)]
        with_cookie = [http.get(f"/v1/areas/feeder/FDR-1/days/{DAY}", headers={"Cookie": "session=abc"})
                       for _ in range(2)]
    assert [r.headers["X-Cache-Status"] for r in personal + with_cookie] == ["BYPASS"] * 4
    assert all(r.status_code == 200 for r in personal + with_cookie)
    assert personal[0].headers["Cache-Control"] == "private, no-store"


def test_a_key_over_its_rate_gets_429_with_retry_after(edge: Edge) -> None:
    token = {"Authorization": f"Bearer {RATE_KEY}"}
    with edge.http() as http:
        answers = [http.get(f"/v1/meters/MTR-A/days/{DAY}", headers=token) for _ in range(4 * (KEY_RATE + KEY_BURST))]
        time.sleep(1.5)
        after = http.get(f"/v1/meters/MTR-A/days/{DAY}", headers=token)
    limited = [r for r in answers if r.status_code == 429]
    assert limited, "a key far over its rate must be limited"
    assert all(r.status_code == 200 for r in answers[:KEY_BURST]), "the burst passes"
    assert limited[0].headers["Retry-After"] == str(edge.settings.edge.retry_after_s)
    assert limited[0].headers["Content-Type"] == "application/problem+json" and limited[0].json()["status"] == 429
    assert after.status_code == 200, "after Retry-After the key is served again"


def test_cors_preflight_allows_only_the_configured_origins(edge: Edge) -> None:
    asked = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "Authorization"}
    with edge.http() as http:
        allowed = http.options(f"/v1/meters/MTR-A/days/{DAY}", headers={"Origin": ORIGIN, **asked})
        other = http.options(f"/v1/meters/MTR-A/days/{DAY}", headers={"Origin": "https://evil.example", **asked})
        simple = http.get(f"/v1/areas/feeder/FDR-1/days/{DAY}", headers={"Origin": ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other.headers
    assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN and "Access-Control-Allow-Methods" not in simple.headers


def test_a_request_body_over_the_limit_is_refused(edge: Edge) -> None:
    with edge.http() as http:
        response = http.post("/v1/search", content=b"x" * (edge.settings.edge.max_body_kb * 1024 + 1))
    assert response.status_code == 413


def test_a_flip_is_served_through_the_cache_and_no_old_figure_after_it(edge: Edge) -> None:
    """A poller through the edge while a new version of the day is published: once it sees the
    new figures it never sees the old ones again, and it sees them within the edge's and the
    API's version lifetimes."""
    day = date(2024, 10, 20)
    edge.publish(day, kwh=1.0)
    seen: list[tuple[float, str]] = []
    with edge.http() as http:
        for _ in range(20):
            seen.append((time.monotonic(), http.get(f"/v1/areas/feeder/FDR-1/days/{day}").json()["figures"]["kwh_import"]))
        flipped_at = time.monotonic()
        edge.publish(day, kwh=2.0)
        deadline = flipped_at + edge.settings.edge.version_ttl_s + 4
        while time.monotonic() < deadline:
            response = http.get(f"/v1/areas/feeder/FDR-1/days/{day}")
            seen.append((time.monotonic(), response.json()["figures"]["kwh_import"]))
            time.sleep(0.02)
    figures = [kwh for _, kwh in seen]
    assert figures[0] == "1.000" and figures[-1] == "2.000"
    first_new = figures.index("2.000")
    assert set(figures[first_new:]) == {"2.000"}, "no old figure once the new one was served"
    # nginx keeps the day's version version_ttl_s in whole seconds: up to one more.
    settled = flipped_at + edge.settings.edge.version_ttl_s + 1 + edge.settings.api.pointer_ttl_ms / 1000 + 0.2
    assert all(kwh == "2.000" for at, kwh in seen if at > settled), seen[first_new][0] - flipped_at


def test_a_stopped_api_instance_is_taken_out_without_failed_requests(edge: Edge) -> None:
    """Requests with a cookie (never cached, so each reaches a pool instance) while one of the
    two live instances is stopped: every one is answered."""
    stopped = edge.live[1]
    stopped.stop()
    try:
        with edge.http() as http:
            answers = [http.get(f"/v1/areas/feeder/FDR-1/days/{DAY}", headers={"Cookie": f"n={n}"})
                       for n in range(40)]
    finally:
        stopped.launch()
        stopped.wait_ready(60)
    assert [r.status_code for r in answers] == [200] * 40
    assert {r.headers["X-Cache-Status"] for r in answers} == {"BYPASS"}


def test_the_canary_share_and_the_header_reach_the_candidate_and_promote_makes_it_live(edge: Edge) -> None:
    day = date(2024, 10, 22)
    live = edge.publish(day, kwh=5.0)
    candidate = edge.publish(day, kwh=6.0, candidate=True)
    assert edge.client.get(day_pointer_key(day.isoformat(), PREFIX)).decode() == live
    path = f"/v1/areas/feeder/FDR-1/days/{day}"

    def version_for(http: httpx.Client, client_id: str) -> str:
        return http.get(path, headers={"Cookie": f"gridlake_client={client_id}"}).headers["X-Data-Version"]

    with edge.http() as http:
        sides = [version_for(http, f"client-{n}") for n in range(10_000)]
        again = [version_for(http, f"client-{n}") for n in range(300)]
        by_header = http.get(path, headers={"X-Data-Version": "candidate"})
        default = http.get(path)
    share = sides.count(candidate) / len(sides)
    assert set(sides) == {live, candidate}
    assert abs(share - CANARY_PERCENT / 100) <= 0.02, share
    assert again == sides[:300], "a client always lands on the same side"
    assert by_header.headers["X-Data-Version"] == candidate and by_header.json()["figures"]["kwh_import"] == "6.000"
    assert default.headers["X-Data-Version"] == live

    promoted = edge.gridlake("cache", "promote", "--date", day.isoformat())
    assert promoted.returncode == 0, promoted.stderr
    assert edge.client.get(day_pointer_key(day.isoformat(), PREFIX)).decode() == candidate
    with cassandra_session(edge.settings) as session:
        copy = DurableCopies(session, KEYSPACE).read(AREA_DAILY, {"level": "feeder", "area_id": "FDR-1",
                                                                 "date": day.isoformat()})
    assert json.loads(copy)["figures"]["kwh_import"] == "6.000", "the promoted version's durable copy"
    time.sleep(edge.settings.edge.version_ttl_s + 0.5)
    with edge.http() as http:
        assert http.get(path).headers["X-Data-Version"] == candidate


def test_abort_sends_the_canary_back_to_the_live_version(edge: Edge) -> None:
    day = date(2024, 10, 23)
    live = edge.publish(day, kwh=7.0)
    edge.publish(day, kwh=8.0, candidate=True)
    aborted = edge.gridlake("cache", "abort", "--date", day.isoformat())
    assert aborted.returncode == 0, aborted.stderr
    time.sleep(edge.settings.edge.version_ttl_s + 0.5)
    with edge.http() as http:
        response = http.get(f"/v1/areas/feeder/FDR-1/days/{day}", headers={"X-Data-Version": "candidate"})
    assert (response.headers["X-Data-Version"], response.json()["figures"]["kwh_import"]) == (live, "7.000")
    again = edge.gridlake("cache", "abort", "--date", day.isoformat())
    assert again.returncode == 1 and f"{day}: no candidate version to abort" in again.stderr
