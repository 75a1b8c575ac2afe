"""Fast, idempotent loading of readings into Cassandra with the Python driver.

Rows of one partition (meter or sensor, local day) go together in UNLOGGED batches: one
mutation per partition, the cheapest write Cassandra has. Batches run concurrently through
the driver's execute_concurrent with prepared statements. With every reading the
``*_days`` index learns that the meter had data that day (one row per meter and day).
Writes are upserts keyed by ingest_id, so loading the same input twice stores it once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby, islice
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from schemas.cassandra import DAY_BUCKETS, Table

#: Rows per batch: keeps batches under Cassandra's default 5 KiB warning threshold.
BATCH_ROWS = 32


def day_bucket(device_id: str) -> int:
    """The ``*_days`` bucket of a meter or sensor: stable across processes (crc32, not hash())."""
    return zlib.crc32(device_id.encode()) % DAY_BUCKETS


@dataclass
class WriteReport:
    rows: int = 0
    partitions: int = 0


def _insert(session: Session, keyspace: str, table: Table) -> PreparedStatement:
    columns = list(table.columns)
    marks = ", ".join("?" for _ in columns)
    return session.prepare(f"INSERT INTO {keyspace}.{table.name} ({', '.join(columns)}) VALUES ({marks})")


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def write_readings(
    session: Session,
    keyspace: str,
    readings: Table,
    days: Table,
    rows: Iterable[Mapping[str, Any]],
    concurrency: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> WriteReport:
    """Write ``rows`` (dicts by column name, grouped by partition) and their day index.

    Rows need not be sorted, but consecutive rows of one partition share a batch, so
    producers that emit a partition's rows together get the full benefit.
    """
    device_column = readings.partition_key[0]
    insert_reading = _insert(session, keyspace, readings)
    insert_day = _insert(session, keyspace, days)
    reading_columns = list(readings.columns)
    report = WriteReport()
    seen_days: set[tuple[str, Any]] = set()

    def statements() -> Iterator[tuple[Any, tuple[Any, ...]]]:
        for (device, day), partition in groupby(rows, key=lambda r: (r[device_column], r["day"])):
            report.partitions += 1
            last_received = None
            for chunk in _chunks(partition, BATCH_ROWS):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for row in chunk:
                    batch.add(insert_reading, tuple(row.get(column) for column in reading_columns))
                    last_received = row.get("received_at")
                report.rows += len(chunk)
                if on_progress:
                    on_progress(len(chunk))
                yield batch, ()
            if (device, day) not in seen_days:
                seen_days.add((device, day))
                yield insert_day, (day, day_bucket(device), device, last_received)

    for result in execute_concurrent(session, statements(), concurrency=concurrency, raise_on_first_error=True,
                                     results_generator=True):
        if not result.success:  # pragma: no cover - raise_on_first_error raises first
            raise result.result_or_exc
    return report
