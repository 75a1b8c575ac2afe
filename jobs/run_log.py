"""The lake's `_runs` table: one row per job run, appended, never rewritten.

Backfills, Airflow and notebooks all leave the same trace: which stage ran for which date,
how many rows it read and wrote, what it left on disk, how long it took, and how it ended.

A stage writes several tables, each with its own record. Inside ``one_commit`` (the pipeline
wraps every stage in it) the records are kept until the block ends and appended in one
write: each append is a Delta commit, and a stage of nine tables spent more time on its ten
commits (and the checkpoints every tenth commit adds) than on some of its tables.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import types as T

log = logging.getLogger(__name__)

RUNS_PATH = "_runs"
#: the records of the enclosing ``one_commit`` block, None outside one (per thread: a
#: backfill runs several stages at once, each in its own block)
_PENDING: ContextVar[list[RunRecord] | None] = ContextVar("gridlake_pending_runs", default=None)

RUNS_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("stage", T.StringType(), False),
    T.StructField("table", T.StringType(), False),
    T.StructField("date", T.DateType(), False),
    T.StructField("started_at", T.TimestampType(), False),
    T.StructField("seconds", T.DoubleType(), False),
    T.StructField("rows_read", T.LongType(), False),
    T.StructField("rows_written", T.LongType(), False),
    T.StructField("bytes", T.LongType(), False),
    T.StructField("files", T.LongType(), False),
    T.StructField("status", T.StringType(), False),
    T.StructField("error", T.StringType(), True),
])


@dataclass
class RunRecord:
    """One stage's run over one table and date."""

    stage: str
    table: str
    date: date
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seconds: float = 0.0
    rows_read: int = 0
    rows_written: int = 0
    bytes: int = 0
    files: int = 0
    status: str = "running"
    error: str | None = None

    def log_line(self) -> str:
        """The record as one key=value log event."""
        return " ".join(f"{key}={value}" for key, value in asdict(self).items() if key != "started_at")


def append_runs(spark: SparkSession, lake_root: str, table_format: str, records: list[RunRecord]) -> None:
    """Append ``records`` to ``_runs`` in one write."""
    rows = []
    for record in records:
        row = {name: getattr(record, name) for name in RUNS_SCHEMA.fieldNames()}
        row["started_at"] = record.started_at.replace(tzinfo=None) if record.started_at.tzinfo else record.started_at
        rows.append(row)
    frame = spark.createDataFrame(rows, RUNS_SCHEMA)
    frame.write.format(table_format).mode("append").save(f"{lake_root.rstrip('/')}/{RUNS_PATH}")


@contextmanager
def one_commit(spark: SparkSession, lake_root: str, table_format: str) -> Iterator[None]:
    """Keep the records of every ``recorded_run`` in the block and append them to ``_runs``
    together when the block ends, however it ends."""
    pending: list[RunRecord] = []
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
        if pending:
            append_runs(spark, lake_root, table_format, pending)


@contextmanager
def recorded_run(spark: SparkSession, lake_root: str, table_format: str, stage: str, table: str,
                 day: date) -> Iterator[RunRecord]:
    """Time the block, mark the record ok, failed (with the error) or interrupted, and append it
    to `_runs` whatever happens (at the end of the enclosing ``one_commit`` block, if any); the
    block's exception still propagates."""
    record = RunRecord(stage=stage, table=table, date=day)
    started = time.monotonic()
    try:
        yield record
        record.status = "ok"
    except Exception as exc:
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        raise
    except BaseException as exc:  # Ctrl-C, a worker shutting down: neither ok nor a job's failure
        record.status, record.error = "interrupted", type(exc).__name__
        raise
    finally:
        record.seconds = round(time.monotonic() - started, 3)
        log.info(record.log_line())
        pending = _PENDING.get()
        if pending is None:
            append_runs(spark, lake_root, table_format, [record])
        else:
            pending.append(record)
