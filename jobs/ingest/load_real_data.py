"""`gridlake load-real`: load one real measured dataset into the same tables as the meters' own data.

Reads the file fully first (jobs/ingest/sources/): a malformed file raises BadInputError before
anything is written, so Cassandra is left untouched. Then writes the catalogue (``meters``),
the lines that could not be placed (``load_rejects``) and the readings (``meter_readings``
with the ``meter_days`` index, through jobs.stores.cassandra_writer). Every key is deterministic:
``ingest_id`` is ``<dataset>:<first 12 hex of the file's sha256>:<line>``, so loading the
same file again rewrites the same rows and a duplicated line of the file stays two readings
for the VEE to judge. ``received_at`` is the time of the load, in UTC.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from jobs.ingest.sources import source_named
from jobs.ingest.sources.common import BadInputError, Clock, ParsedFile, Source
from jobs.runtime.config import Settings
from jobs.stores.cassandra_writer import write_readings
from jobs.stores.cassandra_profiles import WRITES
from jobs.stores.clients import cassandra_session
from schemas.cassandra import LOAD_REJECTS, METER_DAYS, METER_READINGS, METERS, Table

log = logging.getLogger(__name__)

#: The real datasets that ship with gridlake (datasets/README.md says what and whose they are).
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "datasets"
#: The channels only some sources measure (steel: reactive energy and power factor).
OPTIONAL_CHANNELS = ("kvarh", "power_factor")


@dataclass(frozen=True)
class LoadSummary:
    """What one load read and wrote. A row is one reading (one meter, one interval); a Tetouan
    line carries three. ``rows_loaded == rows_read - sum(rejects.values())`` always holds."""

    dataset: str
    file: str
    meters: int
    lines: int
    rows_read: int
    rows_loaded: int
    rejects: dict[str, int]
    seconds: float

    @property
    def rows_per_s(self) -> float:
        """Readings loaded per second of the whole load (parsing included)."""
        return self.rows_loaded / self.seconds if self.seconds else 0.0

    def log_line(self) -> str:
        """One key=value event line; the reject counts as JSON since reasons hold spaces."""
        return (f"event=load_real_data dataset={self.dataset} file={self.file} meters={self.meters} "
                f"lines={self.lines} rows_read={self.rows_read} rows_loaded={self.rows_loaded} "
                f"rejects={json.dumps(self.rejects, sort_keys=True)} seconds={self.seconds:.2f} "
                f"rows_per_s={self.rows_per_s:.0f}")


def main(
    settings: Settings,
    dataset: str,
    path: Path | None = None,
    tz: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadSummary:
    """Load ``dataset`` (sgsc, tetouan, steel) from ``path`` (default: its file in jobs/ingest/datasets)
    with local times read on clock ``tz`` (an IANA zone or an offset like +10:00; default the
    dataset's). ``on_progress(rows_just_written, rows_to_write)`` follows the readings' write.
    Raises BadInputError (one line naming file, line and column) before writing anything.
    """
    source = source_named(dataset)
    clock = Clock.parse(tz or source.default_tz)
    started = time.perf_counter()
    parsed = source.parse(path or DEFAULT_DATA_DIR / source.default_file, clock)
    refuse_unstorable_values(parsed)
    received_at = datetime.now(UTC)
    progress = (lambda written: on_progress(written, len(parsed.readings))) if on_progress else None
    keyspace = settings.cassandra.keyspace
    with cassandra_session(settings) as session:
        _insert_all(session, keyspace, METERS, catalogue_rows(parsed, source, clock.name))
        _insert_all(session, keyspace, LOAD_REJECTS, reject_rows(parsed, source, received_at))
        report = write_readings(session, keyspace, METER_READINGS, METER_DAYS,
                                reading_rows(parsed, source, received_at),
                                concurrency=settings.cassandra.write_concurrency, on_progress=progress)
    summary = summarise(parsed, source, report.rows, time.perf_counter() - started)
    log.info(summary.log_line())
    return summary


def refuse_unstorable_values(parsed: ParsedFile) -> None:
    """Fail the file, before anything is written, on a reading whose value its channel cannot
    store (too large for its steps, schemas/cassandra.py StoredChannel), naming the line."""
    for reading in parsed.readings:
        for channel in METER_READINGS.channels:
            value = getattr(reading, channel.name, None)
            if value is None:
                continue
            try:
                channel.to_stored(value)
            except ValueError as exc:
                raise BadInputError(f"{parsed.file} line {reading.line}: {exc}") from None


def reading_rows(parsed: ParsedFile, source: Source, received_at: datetime) -> Iterator[dict[str, Any]]:
    """The ``meter_readings`` rows, grouped by partition (meter, local day) so they batch together.

    A channel the source does not measure is left out of the row rather than set to null.
    """
    ingest_prefix = f"{source.name}:{parsed.sha256[:12]}:"
    for reading in sorted(parsed.readings, key=lambda r: (r.meter_id, r.day, r.ts, r.line)):
        row = {
            "meter_id": reading.meter_id, "day": reading.day, "ts": reading.ts,
            "ingest_id": f"{ingest_prefix}{reading.line}", "interval_s": source.interval_s,
            "kwh_import": reading.kwh_import, "source": source.name, "received_at": received_at,
        }
        for channel in OPTIONAL_CHANNELS:
            value = getattr(reading, channel)
            if value is not None:
                row[channel] = value
        yield row


def catalogue_rows(parsed: ParsedFile, source: Source, timezone: str) -> list[dict[str, Any]]:
    """One ``meters`` row per meter with readings: active from its first to its last local day seen."""
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for reading in parsed.readings:
        first[reading.meter_id] = min(first.get(reading.meter_id, reading.day), reading.day)
        last[reading.meter_id] = max(last.get(reading.meter_id, reading.day), reading.day)
    return [
        {"meter_id": meter.meter_id, "meter_class": meter.meter_class, "address": meter.address,
         "capacity_kw": meter.capacity_kw,
         "timezone": timezone, "interval_s": source.interval_s, "active_from": first[meter.meter_id],
         "active_to": last[meter.meter_id], "source": source.name}
        for meter in parsed.meters.values()
    ]


def reject_rows(parsed: ParsedFile, source: Source, received_at: datetime) -> list[dict[str, Any]]:
    """The ``load_rejects`` rows: one per line that could not be placed, with its raw text."""
    return [{"source": source.name, "file": parsed.file, "line": reject.line, "reason": reject.stated,
             "raw": reject.raw, "received_at": received_at} for reject in parsed.rejects]


def summarise(parsed: ParsedFile, source: Source, rows_loaded: int, seconds: float) -> LoadSummary:
    """The load's counts; rejects are counted in the readings their lines carried, by reason."""
    rejects: Counter[str] = Counter()
    for reject in parsed.rejects:
        rejects[reject.reason] += reject.readings
    return LoadSummary(dataset=source.name, file=parsed.file, meters=len(parsed.meters), lines=parsed.lines,
                       rows_read=len(parsed.readings) + sum(rejects.values()), rows_loaded=rows_loaded,
                       rejects=dict(rejects), seconds=seconds)


def _insert_all(session: Session, keyspace: str, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Upsert ``rows`` (dicts by column, all with the same columns) with one prepared statement."""
    rows = list(rows)
    if not rows:
        return
    columns = [column for column in table.columns if column in rows[0]]
    insert = session.prepare(f"INSERT INTO {keyspace}.{table.name} ({', '.join(columns)}) "
                             f"VALUES ({', '.join('?' for _ in columns)})")
    execute_concurrent_with_args(session, insert, [tuple(row[c] for c in columns) for row in rows],
                                 raise_on_first_error=True, execution_profile=WRITES)
