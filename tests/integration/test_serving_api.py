"""The serving API as a user meets it: `gridlake serve` in its own processes, over HTTP, against
the real Redis (single and Cluster) and Cassandra, with figures published by the real publisher."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO

import httpx
import psutil
import pytest
import redis
from greenbutton_objects import parse

from jobs.api.app import key_digest
from jobs.runtime.config import PROJECT_ROOT, Settings
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, CachePublisher
from jobs.stores.clients import cassandra_session, elasticsearch_client, open_redis
from schemas.search import index_template
from schemas.cache_keys import (AREA_DAILY, AREA_TOP_CONSUMERS, METER_DAILY, METER_HOURLY, METER_LATEST, METER_MONTH,
                                METER_TOU, KeyFamily)

PREFIX = "gridlake-api-test"
SEARCH_ALIAS = "gridlake-api-test-meters"
#: Meters around Tirana's centre (41.3275, 19.8187): (id, class, feeder, tariff, lat, lon, kWh)
SEARCHED = [("MTR-A", "residential", "FDR-1", "flat", 41.3280, 19.8190, 12.3),
            ("MTR-B", "residential", "FDR-1", "tou", 41.3290, 19.8200, 7.0),
            ("MTR-C", "commercial", "FDR-2", "tou", 41.3300, 19.8150, 55.0),
            ("MTR-D", "commercial", "FDR-2", "flat", 41.4000, 19.9000, 60.0)]
DAY, NEXT_DAY = date(2024, 10, 26), date(2024, 10, 27)
HOUSEHOLD_KEY, OPERATOR_KEY = "household-key-of-MTR-A", "operator-key"
GRIDLAKE = str(Path(sys.executable).parent / "gridlake")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def entry(family: KeyFamily, parts: dict[str, str], value: object) -> CacheEntry:
    """An entry as a publish stores it: its document of ``value``."""
    return CacheEntry(family, parts, family.document(parts, value))


def day_entries(day: date, kwh_a: float) -> list[CacheEntry]:
    """A small published day: two meters, their hours, a feeder and its top consumers."""
    iso = day.isoformat()
    meter_a = entry(METER_DAILY, {"meter_id": "MTR-A", "date": iso},
                    {"kwh_import": f"{kwh_a:.3f}", "peak_kw": "2.500", "peak_at": f"{iso}T18:00:00"})
    return [
        meter_a,
        entry(METER_DAILY, {"meter_id": "MTR-B", "date": iso}, {"kwh_import": "7.000", "peak_kw": "1.000"}),
        entry(METER_HOURLY, {"meter_id": "MTR-A", "date": iso}, {"00": "0.250", "01": "0.500"}),
        CacheEntry(METER_LATEST, {"meter_id": "MTR-A"}, meter_a.value),
        entry(METER_TOU, {"meter_id": "MTR-A", "date": iso}, {"peak": "1.000", "off_peak": f"{kwh_a - 1:.3f}"}),
        entry(METER_MONTH, {"meter_id": "MTR-A", "date": iso}, {"kwh_import": f"{kwh_a * 10:.3f}", "month": iso[:7]}),
        entry(AREA_DAILY, {"level": "feeder", "area_id": "FDR-1", "date": iso},
              {"kwh_import": f"{kwh_a + 7:.3f}", "meter_count": "2"}),
        entry(AREA_TOP_CONSUMERS, {"level": "feeder", "area_id": "FDR-1", "date": iso},
              [{"meter_id": meter, "kwh_import": kwh}
               for meter, kwh in sorted({"MTR-A": kwh_a, "MTR-B": 7.0}.items(), key=lambda item: -item[1])]),
    ]


def publish(settings: Settings, client: redis.Redis, day: date, kwh_a: float) -> str:
    """Publish a day through the real publisher, with write-through copies in Cassandra."""
    with cassandra_session(settings) as session:
        publisher = CachePublisher(client, ttl_s=3600, grace_s=5, prefix=PREFIX,
                                   durable=DurableCopies(session, settings.cassandra.keyspace))
        version, _ = publisher.publish(day, day_entries(day, kwh_a))
    return version


@pytest.fixture(scope="module")
def search_index(services: Settings) -> Iterator[str]:
    """A meters index of this module's own, with the meters template's mappings, behind SEARCH_ALIAS."""
    es = elasticsearch_client(services)
    index = f"{SEARCH_ALIAS}-1"
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, mappings=index_template("meters")["template"]["mappings"],
                      settings={"number_of_replicas": 0})
    for meter_id, kind, feeder, tariff, lat, lon, kwh in SEARCHED:
        es.index(index=index, id=meter_id, document={
            "device_id": meter_id, "device_kind": "meter", "meter_class": kind, "feeder_id": feeder, "tariff": tariff,
            "region": "Tirana", "location": {"lat": lat, "lon": lon}, "description": f"{meter_id} Rruga e Kavajes 12",
            "latest": {"date": NEXT_DAY.isoformat(), "kwh_import": kwh}})
    es.indices.refresh(index=index)
    es.indices.put_alias(index=index, name=SEARCH_ALIAS)
    yield SEARCH_ALIAS
    es.indices.delete(index=index, ignore_unavailable=True)


@contextmanager
def api_server(settings: Settings, redis_url: str | None = None, cluster: bool = False,
               memcached: str | None = None, worker_entries: int = 0, workers: int = 2) -> Iterator[tuple[str, int]]:
    """`gridlake serve` on a free loopback port, as its address and pid; stopped (by its pid) on
    exit. The workers keep no entries in memory unless asked: the tests look at what Redis and
    Cassandra answer."""
    port = free_port()
    env = {**os.environ, "GRIDLAKE_ENV": "test", "GRIDLAKE_CASSANDRA__KEYSPACE": settings.cassandra.keyspace,
           "GRIDLAKE_CACHE__PREFIX": PREFIX, "GRIDLAKE_CACHE__CLUSTER": str(cluster).lower(),
           "GRIDLAKE_API__SEARCH_ALIAS": SEARCH_ALIAS, "GRIDLAKE_API__WORKER_ENTRIES": str(worker_entries),
           "GRIDLAKE_API__KEY_HASHES": json.dumps({key_digest(HOUSEHOLD_KEY): ["MTR-A"],
                                                   key_digest(OPERATOR_KEY): ["*"]})}
    if redis_url:
        env["GRIDLAKE_REDIS__URL"] = redis_url
    if memcached:
        env["GRIDLAKE_API__MEMCACHED"] = memcached
    log = tempfile.TemporaryFile(mode="w+")  # read back when something fails; an unread pipe would fill and block
    server = subprocess.Popen([GRIDLAKE, "serve", "--env", "test", "--port", str(port), "--workers", str(workers)],
                              env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"gridlake serve exited: {read_back(log)}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gridlake serve did not answer within 60 s"
            time.sleep(0.2)
        yield base, server.pid
    except BaseException:
        sys.stderr.write(f"gridlake serve printed:\n{read_back(log)}")
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def read_back(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def api_settings(fresh_keyspace) -> Settings:  # noqa: ANN001 - the fixture's factory
    return fresh_keyspace("gridlake_api_test")


@pytest.fixture(scope="module", params=["single", "cluster"])
def served(request: pytest.FixtureRequest, api_settings: Settings,
           search_index: str) -> Iterator[tuple[str, redis.Redis]]:
    """The API over the shared Redis (single server or Cluster), DAY and NEXT_DAY published."""
    cluster = request.param == "cluster"
    client = open_redis(api_settings.redis, cluster=cluster)
    publish(api_settings, client, DAY, kwh_a=12.345)
    publish(api_settings, client, NEXT_DAY, kwh_a=20.0)
    with api_server(api_settings, cluster=cluster) as (base, _):
        yield base, client
    for key in client.scan_iter(match=f"{PREFIX}:*"):
        client.delete(key)
    client.close()


def test_a_households_day_is_read_from_redis_with_its_token(served) -> None:
    base, client = served
    response = httpx.get(f"{base}/v1/meters/MTR-A/days/{DAY}", headers=bearer(HOUSEHOLD_KEY))
    assert response.status_code == 200
    assert response.json() == {"meter_id": "MTR-A", "date": DAY.isoformat(), "figures": {
        "kwh_import": "12.345", "peak_kw": "2.500", "peak_at": "2024-10-26T18:00:00"}}
    version = response.headers["X-Data-Version"]
    assert version == client.get(f"{PREFIX}:live:{DAY}").decode() and response.headers["ETag"] == f'"{version}"'
    assert response.content == client.get(METER_DAILY.key(version, PREFIX, meter_id="MTR-A", date=DAY.isoformat())), \
        "the document as the publish stored it"
    assert response.headers["X-Served-From"] == "redis"
    assert response.headers["Cache-Control"] == "private, no-store"
    hours = httpx.get(f"{base}/v1/meters/MTR-A/days/{DAY}/hours", headers=bearer(HOUSEHOLD_KEY)).json()
    assert hours["kwh_import"] == {"00": "0.250", "01": "0.500"}
    latest = httpx.get(f"{base}/v1/meters/MTR-A/latest", headers=bearer(HOUSEHOLD_KEY)).json()
    assert (latest["date"], latest["figures"]["kwh_import"]) == (NEXT_DAY.isoformat(), "20.000")
    assert latest == httpx.get(f"{base}/v1/meters/MTR-A/days/{NEXT_DAY}", headers=bearer(HOUSEHOLD_KEY)).json()
    tou = httpx.get(f"{base}/v1/meters/MTR-A/days/{DAY}/tou", headers=bearer(HOUSEHOLD_KEY)).json()
    assert tou["kwh_import_by_band"] == {"peak": "1.000", "off_peak": "11.345"}
    # October as of its last published day, NEXT_DAY (the newest day published).
    month = httpx.get(f"{base}/v1/meters/MTR-A/months/2024-10", headers=bearer(HOUSEHOLD_KEY)).json()
    assert (month["date"], month["figures"]) == (NEXT_DAY.isoformat(), {"kwh_import": "200.000", "month": "2024-10"})
    assert httpx.get(f"{base}/v1/meters/MTR-A/months/2024-13", headers=bearer(HOUSEHOLD_KEY)).status_code == 400


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), (bearer("not-a-key"), 401), (bearer(HOUSEHOLD_KEY), 403), (bearer(OPERATOR_KEY), 200),
], ids=["no token", "unknown token", "another household's token", "operator token"])
def test_what_a_token_may_read(served, headers: dict[str, str], status: int) -> None:
    base, _ = served
    response = httpx.get(f"{base}/v1/meters/MTR-B/days/{DAY}", headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "household-key" not in response.text


def test_area_figures_are_public_cacheable_and_revalidate_with_304(served) -> None:
    base, _ = served
    first = httpx.get(f"{base}/v1/areas/feeder/FDR-1/days/{DAY}")
    assert first.status_code == 200
    assert first.json()["figures"] == {"kwh_import": "19.345", "meter_count": "2"}
    assert first.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
    again = httpx.get(f"{base}/v1/areas/feeder/FDR-1/days/{DAY}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    top = httpx.get(f"{base}/v1/areas/feeder/FDR-1/days/{NEXT_DAY}/top-consumers").json()
    assert top["meters"] == [{"meter_id": "MTR-A", "kwh_import": 20.0}, {"meter_id": "MTR-B", "kwh_import": 7.0}]


@pytest.mark.parametrize(("path", "status", "detail"), [
    ("/v1/areas/feeder/FDR-1/days/2024-13-01", 400, "day"),
    ("/v1/areas/district/FDR-1/days/2024-10-26", 400, "level"),
    ("/v1/areas/feeder/FDR-404/days/2024-10-26", 404, "no figures for feeder FDR-404 on 2024-10-26"),
    ("/v1/areas/feeder/FDR-1/days/2024-11-30", 404, "2024-11-30 is not published yet"),
], ids=["malformed date", "unknown level", "unknown feeder", "a day not yet published"])
def test_bad_requests_get_problem_details(served, path: str, status: int, detail: str) -> None:
    base, _ = served
    response = httpx.get(f"{base}{path}")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and detail in problem["detail"] and "Traceback" not in response.text
    if "not published" in detail:
        assert problem["newest_published"] == NEXT_DAY.isoformat()


def test_a_missing_key_is_served_from_cassandra_and_put_back(served) -> None:
    base, client = served
    version = client.get(f"{PREFIX}:live:{DAY}").decode()
    key = AREA_DAILY.key(version, PREFIX, level="feeder", area_id="FDR-1", date=DAY.isoformat())
    client.delete(key)
    response = httpx.get(f"{base}/v1/areas/feeder/FDR-1/days/{DAY}")
    assert response.json()["figures"] == {"kwh_import": "19.345", "meter_count": "2"}
    assert response.headers["X-Served-From"] == "cassandra"
    assert client.get(key) == response.content


def test_a_flip_is_seen_whole_by_a_polling_client(served, api_settings: Settings) -> None:
    """Every response pairs the figures with the version that holds them: no mix of two publishes.
    Once the workers' pointers have aged (api.pointer_ttl_ms), only the new version is served.
    A day of its own, so that the other tests' figures stay as published."""
    base, client = served
    flip_day = date(2024, 10, 20)
    publish(api_settings, client, flip_day, kwh_a=1.0)
    seen: list[tuple[float, str, str]] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client() as http:
            while not stop.is_set():
                asked = time.monotonic()
                response = http.get(f"{base}/v1/areas/feeder/FDR-1/days/{flip_day}")
                seen.append((asked, response.headers["X-Data-Version"], response.json()["figures"]["kwh_import"]))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.3)
        flipped = publish(api_settings, client, flip_day, kwh_a=30.0)
        flipped_at = time.monotonic()
        time.sleep(0.6)
    finally:
        stop.set()
        poller.join()
    figures_of = {version: {kwh for _, v, kwh in seen if v == version} for _, version, _ in seen}
    assert flipped in figures_of and len(figures_of) == 2, "the poller saw the old and the new version"
    assert figures_of[flipped] == {"37.000"} and {kwh for _, _, kwh in seen} == {"8.000", "37.000"}
    settled = flipped_at + api_settings.api.pointer_ttl_ms / 1000 + 0.05
    assert all(version == flipped for asked, version, _ in seen if asked > settled), "after the flip, only the new"


def test_health_and_readiness(served) -> None:
    base, _ = served
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert all(check["ok"] for check in checks.values()) and set(checks) == {
        "redis", "data_version", "cassandra", "elasticsearch"}


def test_the_openapi_schema_documents_every_resource(served) -> None:
    base, _ = served
    schema = httpx.get(f"{base}/openapi.json")
    assert schema.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert httpx.get(f"{base}/docs").headers["Cache-Control"] == "public, max-age=31536000, immutable"
    paths = schema.json()["paths"]
    assert {"/v1/meters/{meter_id}/days/{day}", "/v1/meters/{meter_id}/days/{day}/hours",
            "/v1/meters/{meter_id}/latest", "/v1/areas/{level}/{area_id}/days/{day}",
            "/v1/meters/{meter_id}/days/{day}/tou", "/v1/meters/{meter_id}/months/{month}",
            "/v1/areas/{level}/{area_id}/days/{day}/top-consumers", "/healthz", "/readyz",
            "/espi/1_1/resource/Batch/UsagePoint/{meter_id}"} <= set(paths)


def test_with_redis_down_the_durable_copies_answer_and_readiness_says_why(api_settings: Settings,
                                                                          tmp_path: Path) -> None:
    """A Redis server of this test's own, stopped by its pid while the API runs; then the API's
    workers are killed (by pid, children of the server this test started) and come back without it."""
    port = free_port()
    own = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the test's own redis-server did not start"
                time.sleep(0.1)
        publish(api_settings, client, DAY, kwh_a=12.345)
        with api_server(api_settings, redis_url=url) as (base, server_pid):
            assert httpx.get(f"{base}/v1/areas/feeder/FDR-1/days/{DAY}").headers["X-Served-From"] == "redis"
            own.terminate()
            own.wait(timeout=10)
            assert_answered_from_cassandra(base)
            ready = httpx.get(f"{base}/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"]["ok"] is False and ready.json()["checks"]["redis"]["reason"]

            workers = psutil.Process(server_pid).children()
            for worker in workers:
                worker.kill()
            psutil.wait_procs(workers, timeout=10)
            deadline = time.monotonic() + 60
            while {p.pid for p in psutil.Process(server_pid).children()} & {w.pid for w in workers} or \
                    len(psutil.Process(server_pid).children()) < len(workers):
                assert time.monotonic() < deadline, "the API's workers did not come back"
                time.sleep(0.2)
            assert_answered_from_cassandra(base)
    finally:
        if own.poll() is None:
            own.kill()


def assert_answered_from_cassandra(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:  # a restarted worker answers once its start-up is done
        try:
            response = httpx.get(f"{base}/v1/meters/MTR-A/days/{DAY}", headers=bearer(HOUSEHOLD_KEY))
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the API did not answer within 60 s"
            time.sleep(0.2)
    assert response.status_code == 200
    assert response.json()["figures"]["kwh_import"] == "12.345"
    assert response.headers["X-Served-From"] == "cassandra"


def test_a_green_button_feed_of_the_published_hours(served, tmp_path: Path) -> None:
    base, _ = served
    url = f"{base}/espi/1_1/resource/Batch/UsagePoint/MTR-A"
    response = httpx.get(url, params={"start": str(DAY), "end": str(NEXT_DAY)}, headers=bearer(HOUSEHOLD_KEY))
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/atom+xml"
    feed = tmp_path / "feed.xml"
    feed.write_bytes(response.content)
    (point,) = parse.parse_feed(str(feed))
    readings = sorted(next(iter(point.meterReadings)).intervalReadings)
    assert [r.value for r in readings] == [250, 500, 250, 500]  # Wh of 0.250 and 0.500 kWh, two days
    assert httpx.get(url, params={"start": str(NEXT_DAY), "end": str(DAY)},
                     headers=bearer(HOUSEHOLD_KEY)).status_code == 400
    assert httpx.get(f"{base}/espi/1_1/resource/Batch/UsagePoint/MTR-B", params={"start": str(DAY), "end": str(DAY)},
                     headers=bearer(HOUSEHOLD_KEY)).status_code == 403


def test_search_near_a_point_with_facets_and_no_location(served) -> None:
    base, _ = served
    response = httpx.get(f"{base}/v1/search", params={"near": "41.3275,19.8187", "radius": "1km"})
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("public")
    found = response.json()
    # Within 1 km: the three meters in the centre (MTR-D is about 10 km away), nearest first.
    assert [hit["device_id"] for hit in found["hits"]] == ["MTR-A", "MTR-B", "MTR-C"]
    assert found["total"] == 3
    assert found["facets"] == {"type": {"residential": 2, "commercial": 1}, "feeder": {"FDR-1": 2, "FDR-2": 1},
                               "region": {"Tirana": 3}, "tariff": {"tou": 2, "flat": 1}}
    for hit in found["hits"]:
        assert "location" not in hit and "description" not in hit and hit["distance_m"] % 100 == 0
    assert "Kavajes" not in response.text and "41.32" not in response.text


@pytest.mark.parametrize(("params", "expected"), [
    ({"type": "commercial"}, ["MTR-C", "MTR-D"]),
    ({"kwh": "50..58"}, ["MTR-C"]),
    ({"feeder": "FDR-1", "kwh": "..10"}, ["MTR-B"]),
], ids=["by type", "by energy range", "by feeder and open range"])
def test_search_filters(served, params: dict[str, str], expected: list[str]) -> None:
    base, _ = served
    found = httpx.get(f"{base}/v1/search", params=params).json()
    assert sorted(hit["device_id"] for hit in found["hits"]) == expected


@pytest.mark.parametrize("params", [{"near": "91,0"}, {"radius": "far"}, {"type": "castle"}, {"kwh": "9..1"}],
                         ids=["latitude", "radius", "type", "range"])
def test_a_bad_search_is_a_problem_naming_the_parameter(served, params: dict[str, str]) -> None:
    base, _ = served
    response = httpx.get(f"{base}/v1/search", params=params)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].startswith(next(iter(params)))


def test_memcached_serves_hot_keys_and_a_flip_is_never_served_old(api_settings: Settings) -> None:
    """The hot-key tier over the shared Redis: the second read of a key comes from memcached;
    after a flip the next read asks for the new version's key."""
    client = open_redis(api_settings.redis)
    hot_day = date(2024, 10, 21)
    publish(api_settings, client, hot_day, kwh_a=1.0)
    memcached = f"127.0.0.1:{api_settings.services.memcached.port}"
    try:
        with api_server(api_settings, memcached=memcached) as (base, _):
            url = f"{base}/v1/areas/feeder/FDR-1/days/{hot_day}"
            first, second = httpx.get(url), httpx.get(url)
            assert (first.headers["X-Served-From"], second.headers["X-Served-From"]) == ("redis", "memcached")
            assert first.json()["figures"] == second.json()["figures"] == {"kwh_import": "8.000", "meter_count": "2"}
            flipped = publish(api_settings, client, hot_day, kwh_a=2.0)
            after = httpx.get(url)
            assert (after.headers["X-Data-Version"], after.json()["figures"]["kwh_import"]) == (flipped, "9.000")
    finally:  # only this day's keys: the module's other tests share the prefix
        for key in [*client.scan_iter(match=f"{PREFIX}:v{hot_day:%Y%m%d}*"), f"{PREFIX}:live:{hot_day}"]:
            client.delete(key)
        client.close()


def test_a_worker_keeps_the_entries_it_read_and_a_flip_moves_it_on(api_settings: Settings) -> None:
    """One worker with entries in memory: the second read is the worker's; a flip changes the
    versioned key asked for, so the new figures come from Redis at once."""
    client = open_redis(api_settings.redis)
    kept_day = date(2024, 10, 22)
    publish(api_settings, client, kept_day, kwh_a=1.0)
    try:
        with api_server(api_settings, worker_entries=100, workers=1) as (base, _):
            url = f"{base}/v1/areas/feeder/FDR-1/days/{kept_day}"
            first, second = httpx.get(url), httpx.get(url)
            assert (first.headers["X-Served-From"], second.headers["X-Served-From"]) == ("redis", "worker")
            assert first.json()["figures"] == second.json()["figures"] == {"kwh_import": "8.000", "meter_count": "2"}
            flipped = publish(api_settings, client, kept_day, kwh_a=2.0)
            time.sleep(api_settings.api.pointer_ttl_ms / 1000 + 0.05)
            after = httpx.get(url)
            assert after.headers["X-Served-From"] == "redis"
            assert (after.headers["X-Data-Version"], after.json()["figures"]["kwh_import"]) == (flipped, "9.000")
    finally:  # only this day's keys: the module's other tests share the prefix
        for key in [*client.scan_iter(match=f"{PREFIX}:v{kept_day:%Y%m%d}*"), f"{PREFIX}:live:{kept_day}"]:
            client.delete(key)
        client.close()
