"""What the benchmarks share: a scratch keyspace seeded with a synthetic grid, dropped after."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from jobs.ingest import seed_grid
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings

START = date(2024, 5, 6)


def seeded(base: Settings, keyspace: str, meters: int, days: int, lake: Path, fault_rate: float = 0.0) -> Settings:
    """Settings on a fresh ``keyspace`` holding ``meters`` x ``days`` from START (late rows
    included), with the lake at ``lake``."""
    settings = base.model_copy(deep=True)
    settings.cassandra.keyspace = keyspace
    settings.lake.root = str(lake)
    drop(settings)
    with cassandra_session(settings) as session:
        apply_schema(session, settings)
    started = time.perf_counter()
    summary = seed_grid.main(settings, meters, days, START, seed=7, fault_rate=fault_rate, late_rows="include")
    print(f"seeded {keyspace}: {summary.meter_rows + summary.sensor_rows:,} rows in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return settings


def drop(settings: Settings) -> None:
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra.keyspace}")
