"""`gridlake schema apply`: create or migrate keyspace ``grid`` from schemas/cassandra.py.

Idempotent: a second apply changes nothing. A table that exists gets the columns it lacks
(ALTER TABLE ADD, so stored rows stay); a column whose type differs, a primary key that
differs, or a readings table that still keeps its channels as decimals, is an error, never a
silent drop and re-create.
"""

from __future__ import annotations

from typing import NamedTuple

from cassandra.cluster import Session

from jobs.runtime.config import Settings
from schemas.cassandra import TABLES, Table, keyspace_cql, primary_key_cql, time_series_options


class SchemaConflict(RuntimeError):
    """The live schema differs from schemas/ in a way apply will not change by itself."""


class LiveTable(NamedTuple):
    """A table as Cassandra has it: its columns' types and its primary key."""

    columns: dict[str, str]
    partition_key: tuple[str, ...]
    clustering: tuple[str, ...]


def _live_table(session: Session, keyspace: str, table: str) -> LiveTable | None:
    rows = session.execute(
        "SELECT column_name, type, kind, position FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    ).all()
    if not rows:
        return None

    def key(kind: str) -> tuple[str, ...]:
        return tuple(row.column_name for row in sorted(rows, key=lambda row: row.position) if row.kind == kind)

    return LiveTable({row.column_name: row.type for row in rows}, key("partition_key"), key("clustering"))


def _migrate(session: Session, keyspace: str, table: Table, live_table: LiveTable) -> list[str]:
    live = live_table.columns
    if (live_table.partition_key, live_table.clustering) != (table.partition_key, table.clustering):
        raise SchemaConflict(
            f"{keyspace}.{table.name} has primary key {primary_key_cql(live_table.partition_key, live_table.clustering)} "
            f"in Cassandra but {primary_key_cql(table.partition_key, table.clustering)} in schemas/; a key does not "
            "change in place: drop the table and rebuild it (cache_entries: republish the dates), or start over in "
            "a new keyspace (a local checkout: `make clean`)"
        )
    for channel in table.channels:
        if channel.name in live:
            # Made before channels were stored as steps: the new columns beside the old ones
            # would leave every stored reading without channels in the lake.
            raise SchemaConflict(
                f"{keyspace}.{table.name}.{channel.name} is {live[channel.name]} in Cassandra, from before channels "
                f"were stored as steps ({channel.column} {channel.cql_type}); load the readings into a new keyspace "
                "(a local checkout: `make clean` starts over)"
            )
    actions = []
    for column, cql_type in table.columns.items():
        if column not in live:
            session.execute(f"ALTER TABLE {keyspace}.{table.name} ADD {column} {cql_type}")
            actions.append(f"added column {table.name}.{column} {cql_type}")
        elif live[column] != cql_type:
            raise SchemaConflict(
                f"{keyspace}.{table.name}.{column} is {live[column]} in Cassandra but {cql_type} in schemas/; "
                "change it with a new column, not in place"
            )
    return actions


def apply_schema(session: Session, settings: Settings) -> list[str]:
    """Create the keyspace and every table, add missing columns; return what was done."""
    conf = settings.cassandra
    keyspace = conf.keyspace
    series = time_series_options(conf.raw_ttl_days * 86400, conf.compaction_window_unit, conf.compaction_window_size)
    exists = session.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
                             (keyspace,)).one()
    actions = [] if exists else [f"created keyspace {keyspace}"]
    session.execute(keyspace_cql(keyspace, conf.replication))
    for table in TABLES:
        live = _live_table(session, keyspace, table.name)
        if live:
            actions += _migrate(session, keyspace, table, live)
        else:
            session.execute(table.create_cql(keyspace, series))
            actions.append(f"created table {keyspace}.{table.name}")
    return actions
