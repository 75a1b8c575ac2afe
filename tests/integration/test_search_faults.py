"""Elasticsearch killed (SIGKILL, by pid) in the middle of an index build: an Elasticsearch of
this test's own, on free ports and its own data, started and killed here."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from jobs.devstack.elasticsearch_server import TRANSPORT_PORT_OFFSET, ElasticsearchServer
from jobs.runtime.config import Settings
from jobs.stores.search_indices import BUILDING, COMPLETE, VersionedIndex

pytestmark = pytest.mark.timeout(900)

ALIAS = "fault-feeders"
DOCS = 3000


def free_port_pair() -> int:
    """A port free on loopback whose transport port (+TRANSPORT_PORT_OFFSET) is free too."""
    while True:
        with socket.socket() as http:
            http.bind(("127.0.0.1", 0))
            port = http.getsockname()[1]
            with socket.socket() as transport:
                try:
                    transport.bind(("127.0.0.1", port + TRANSPORT_PORT_OFFSET))
                except OSError:
                    continue
        return port


def feeders(count: int, kwh: float) -> list[dict]:
    return [{"feeder_id": f"F-{n:05d}", "kwh": kwh + n} for n in range(count)]


def by_feeder(document: dict) -> str:
    return document["feeder_id"]


@pytest.fixture
def own_elasticsearch(services: Settings, tmp_path: Path) -> Iterator[tuple[ElasticsearchServer, Settings]]:
    settings = services.model_copy(deep=True)
    settings.state_dir = tmp_path / "state"
    settings.elasticsearch.url = f"http://127.0.0.1:{free_port_pair()}"
    server = ElasticsearchServer(settings)
    server.launch()
    try:
        server.wait_ready(300)
        yield server, settings
    finally:
        server.stop()


def client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch.url, request_timeout=30, max_retries=0)


def test_a_build_killed_with_elasticsearch_leaves_the_live_version_and_the_next_prunes_it(
        own_elasticsearch: tuple[ElasticsearchServer, Settings]) -> None:
    server, settings = own_elasticsearch
    family = VersionedIndex(client(settings), ALIAS, ALIAS, keep=3)
    first_docs = feeders(DOCS, 1.0)
    good = family.build(first_docs, by_feeder, expected_docs=DOCS, samples={"F-00000": first_docs[0]})
    pid = server.process.pid()

    def killed_mid_source() -> Iterator[dict]:
        for n, document in enumerate(feeders(DOCS, 2.0)):
            if n == DOCS // 2:
                os.kill(pid, signal.SIGKILL)
            yield document

    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the client raises on a dead server
        family.build(killed_mid_source(), by_feeder, expected_docs=DOCS, samples={})

    server.launch()  # the same data directory: what was on disk when it died
    server.wait_ready(300)
    es = client(settings)
    family = VersionedIndex(es, ALIAS, ALIAS, keep=3)
    assert family.live() == [good], "the alias never moved"
    assert es.count(index=ALIAS)["count"] == DOCS
    versions = {v.name: v.build_state for v in family.versions()}
    (broken,) = [name for name in versions if name != good]
    assert versions[broken] == BUILDING

    third_docs = feeders(DOCS, 3.0)
    third = family.build(third_docs, by_feeder, expected_docs=DOCS, samples={"F-00001": third_docs[1]})
    assert family.live() == [third]
    assert {v.name: v.build_state for v in family.versions()} == {third: COMPLETE, good: COMPLETE}, \
        "the broken build is pruned, the previous good one kept"
    assert es.get(index=ALIAS, id="F-00001")["_source"]["kwh"] == 4.0
