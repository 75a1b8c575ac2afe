"""The lake's `_runs` table: one row per job run, appended, never rewritten.

Backfills, Airflow and notebooks all leave the same trace: which stage ran for which date,
how many rows it read and wrote, what it left on disk, how long it took, and how it ended.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import types as T

log = logging.getLogger(__name__)

RUNS_PATH = "_runs"

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


def append_run(spark: SparkSession, lake_root: str, table_format: str, record: RunRecord) -> None:
    """Append ``record`` to ``_runs`` and log it."""
    row = {name: getattr(record, name) for name in RUNS_SCHEMA.fieldNames()}
    row["started_at"] = record.started_at.replace(tzinfo=None) if record.started_at.tzinfo else record.started_at
    frame = spark.createDataFrame([row], RUNS_SCHEMA)
    frame.write.format(table_format).mode("append").save(f"{lake_root.rstrip('/')}/{RUNS_PATH}")
    log.info(record.log_line())


@contextmanager
def recorded_run(spark: SparkSession, lake_root: str, table_format: str, stage: str, table: str,
                 day: date) -> Iterator[RunRecord]:
    """Time the block, mark the record ok, failed (with the error) or interrupted, and append it
    to `_runs` whatever happens; the block's exception still propagates."""
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
        append_run(spark, lake_root, table_format, record)
