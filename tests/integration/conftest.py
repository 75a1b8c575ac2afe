"""Fixtures the integration modules share: scratch Cassandra keyspaces with the whole schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings


def drop_keyspace(settings: Settings) -> None:
    """Drop the settings' keyspace."""
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}")


@pytest.fixture(scope="module")
def fresh_keyspace(services: Settings) -> Iterator[Callable[[str], Settings]]:
    """``fresh_keyspace(name)``: settings pointing at keyspace ``name``, dropped if it existed
    and created anew with the whole schema. Every keyspace made is dropped after the module."""
    made: list[Settings] = []

    def make(name: str) -> Settings:
        scratch = services.model_copy(deep=True)
        scratch.cassandra.keyspace = name
        drop_keyspace(scratch)
        with cassandra_session(scratch) as session:
            apply_schema(session, scratch)
        made.append(scratch)
        return scratch

    yield make
    for settings in made:
        drop_keyspace(settings)
