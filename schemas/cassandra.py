"""CQL for keyspace ``grid``: jobs and tests build their statements from here."""

from __future__ import annotations

import json
from typing import Any

STACK_CHECK_TABLE = "stack_check"


def keyspace_cql(keyspace: str, replication: dict[str, Any]) -> str:
    """CREATE KEYSPACE for the configured replication (idempotent)."""
    options = json.dumps(replication).replace('"', "'")
    return f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {options}"


def stack_check_table_cql(keyspace: str) -> str:
    """The table the stack check writes through Spark: one meter's intervals of one day."""
    return (
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{STACK_CHECK_TABLE} ("
        " meter_id text, day date, ts timestamp, kwh_import decimal,"
        " PRIMARY KEY ((meter_id, day), ts))"
    )
