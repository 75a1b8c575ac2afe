"""Versioned index builds against the real Elasticsearch: swap, failure, rollback, pruning."""

import threading
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from jobs.stores.clients import elasticsearch_client
from jobs.runtime.config import Settings
from jobs.stores.search_indices import BUILDING, COMPLETE, IndexBuildError, VersionedIndex

ALIAS = "test-feeders"


def feeders(count: int) -> list[dict]:
    return [{"feeder_id": f"F-{n:02d}", "substation_id": f"S-{n % 2}", "kwh": 100.0 + n} for n in range(count)]


def delete_versions(es: Elasticsearch) -> None:
    # Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name): name each one.
    for name in es.indices.get(index=f"{ALIAS}-v*"):
        es.indices.delete(index=name)


@pytest.fixture
def es(services: Settings) -> Iterator[Elasticsearch]:
    client = elasticsearch_client(services)
    delete_versions(client)
    yield client
    delete_versions(client)


def by_feeder(document: dict) -> str:
    return document["feeder_id"]


def build(family: VersionedIndex, docs: list[dict]) -> str:
    return family.build(docs, by_feeder, expected_docs=len(docs), samples={docs[0]["feeder_id"]: docs[0]})


def alias_count(es: Elasticsearch) -> int:
    return es.count(index=ALIAS)["count"]


def test_second_build_swaps_the_alias_and_keeps_the_first(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=3)
    first = build(family, feeders(3))
    assert alias_count(es) == 3
    second = build(family, feeders(4))

    assert family.live() == [second]
    assert alias_count(es) == 4
    versions = family.versions()
    assert [(v.name, v.live, v.docs, v.build_state) for v in versions] == [
        (second, True, 4, COMPLETE), (first, False, 3, COMPLETE)]


def test_a_reader_polling_during_the_swap_never_sees_zero_or_double(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=3)
    build(family, feeders(4))
    seen: set[int] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.add(alias_count(es))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for size in (5, 4, 5):
            build(family, feeders(size))
    finally:
        stop.set()
        reader.join()
    assert seen <= {4, 5}
    assert seen == {4, 5}, "the reader should have seen both versions"


def test_a_failure_mid_build_leaves_the_old_version_serving(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=3)
    good = build(family, feeders(4))

    def broken_source():
        yield from feeders(2)
        raise OSError("source went away mid-build")

    with pytest.raises(OSError, match="mid-build"):
        family.build(broken_source(), by_feeder, expected_docs=4, samples={})
    assert family.live() == [good]
    assert alias_count(es) == 4
    assert [v.build_state for v in family.versions()] == [BUILDING, COMPLETE]


def test_a_build_whose_count_differs_is_not_swapped_in(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=3)
    good = build(family, feeders(3))
    with pytest.raises(IndexBuildError, match=r"2 documents indexed, the source has 3"):
        family.build(feeders(2), by_feeder, expected_docs=3, samples={})
    assert family.live() == [good]


def test_rollback_restores_the_previous_results_and_prune_keeps_k(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=2)
    build(family, feeders(3))
    second = build(family, feeders(4))
    third = build(family, feeders(5))
    assert [v.name for v in family.versions()] == [third, second], "keep=2 prunes the oldest"

    assert family.rollback() == second
    assert alias_count(es) == 4
    assert family.rollback(to=third) == third
    assert alias_count(es) == 5
    with pytest.raises(IndexBuildError, match="test-feeders-vnope is not a complete version"):
        family.rollback(to="test-feeders-vnope")


def test_a_candidate_waits_beside_the_live_version_until_promoted(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=1)
    live = build(family, feeders(3))
    candidate = family.build(feeders(5), by_feeder, expected_docs=5, samples={"F-00": feeders(5)[0]}, candidate=True)

    assert family.live() == [live] and family.candidate() == candidate
    assert alias_count(es) == 3 and es.count(index=f"{ALIAS}-candidate")["count"] == 5
    assert {v.name for v in family.versions()} == {live, candidate}, "keep=1 prunes neither the live nor the candidate"

    assert family.promote_candidate() == candidate
    assert family.live() == [candidate] and family.candidate() is None
    assert alias_count(es) == 5
    assert not es.indices.exists_alias(name=f"{ALIAS}-candidate")


def test_an_aborted_candidate_leaves_the_live_version_and_is_pruned_later(es: Elasticsearch) -> None:
    family = VersionedIndex(es, ALIAS, ALIAS, keep=1)
    live = build(family, feeders(3))
    aborted = family.build(feeders(5), by_feeder, expected_docs=5, samples={"F-00": feeders(5)[0]}, candidate=True)

    assert family.abort_candidate() == aborted
    assert family.candidate() is None and family.live() == [live] and alias_count(es) == 3
    assert aborted in family.prune()
