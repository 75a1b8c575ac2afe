"""Validate, estimate and edit one local date of meter readings: bronze -> silver + quarantine.

Reads the date's bronze partition and the ``meters`` catalogue, applies the VEE rules and the
estimation of jobs/transforms/vee.py, and replaces the date's silver and quarantine
partitions. Checked on every run: bronze rows = (silver rows - estimated rows) + quarantined
rows. Like-day estimation reads earlier dates of silver, so ranges run in date order.
"""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import read_catalogue
from jobs.stores.lake import lake_table
from jobs.stores.runs import RunRecord, recorded_run
from jobs.transforms.bronze_layout import file_count, lay_out, layout_columns
from jobs.transforms.vee import (
    CATALOGUE_COLUMNS,
    VeeCounts,
    check_readings,
    estimate_gaps,
    quarantine_rows,
    silver_rows,
)
from schemas import vee
from schemas.cassandra import METERS
from schemas.lake import BRONZE_METER_READINGS, SILVER_METER_READINGS, SILVER_QUARANTINE

log = logging.getLogger(__name__)

STAGE = "validate"


class ValidateError(RuntimeError):
    """The VEE run could not produce a consistent silver partition."""


def validate_date(spark: SparkSession, settings: Settings, run_date: date,
                  catalogue: DataFrame | None = None) -> RunRecord:
    """Replace ``run_date``'s silver and quarantine partitions from its bronze partition.

    ``catalogue`` (columns CATALOGUE_COLUMNS) defaults to Cassandra's ``meters`` table.
    The `_runs` record: rows_read = bronze rows, rows_written = silver + quarantine rows.
    """
    conf = settings.vee
    bronze_table = lake_table(spark, settings, BRONZE_METER_READINGS)
    silver_table = lake_table(spark, settings, SILVER_METER_READINGS)
    quarantine_table = lake_table(spark, settings, SILVER_QUARANTINE)
    with recorded_run(settings.lake_root, STAGE, SILVER_METER_READINGS.path,
                      run_date) as record:
        if not bronze_table.exists():
            raise ValidateError(f"no bronze table at {bronze_table.location}: run the extract first")
        bronze = bronze_table.read_partition(run_date, BRONZE_METER_READINGS.spark_schema())
        record.rows_read = bronze.count()
        if record.rows_read == 0:
            # Validating an empty day would "estimate" every meter's whole day from history.
            raise ValidateError(f"bronze has no meter readings for {run_date}: run the extract first")
        meters = (catalogue if catalogue is not None else read_catalogue(spark, settings.cassandra.keyspace, METERS, CATALOGUE_COLUMNS)).persist()
        history = (silver_table.read(SILVER_METER_READINGS.spark_schema()) if silver_table.exists() else None)
        checked = check_readings(bronze, meters, conf).persist()
        try:
            estimated = estimate_gaps(checked, meters, history, run_date, conf)
            files = file_count(record.rows_read, settings.lake.bytes_per_reading, settings.lake.target_file_mb * 2**20)
            silver_written = silver_table.replace_partition(lay_out(silver_rows(checked, estimated), "meter_id", files),
                                                            run_date, stats_columns=layout_columns("meter_id"))
            quarantine_written = quarantine_table.replace_partition(quarantine_rows(checked).coalesce(1), run_date)
        finally:
            checked.unpersist()
            meters.unpersist()
        silver = silver_table.read_partition(run_date, SILVER_METER_READINGS.spark_schema())
        by_status = {row.status: row["count"] for row in silver.groupBy("status").count().collect()}
        counts = VeeCounts(
            bronze=record.rows_read, silver=sum(by_status.values()),
            estimated=sum(by_status.get(s, 0) for s in vee.ESTIMATED),
            quarantined=quarantine_written.rows)
        record.rows_written = counts.silver + counts.quarantined
        record.files = silver_written.files + quarantine_written.files
        record.bytes = silver_written.bytes + quarantine_written.bytes
        log.info("stage=%s event=counts date=%s bronze=%d silver=%d estimated=%d quarantined=%d %s ruleset=%s",
                 STAGE, run_date, counts.bronze, counts.silver, counts.estimated, counts.quarantined,
                 " ".join(f"{status.lower()}={n}" for status, n in sorted(by_status.items())), conf.ruleset_version)
        if not counts.balanced:
            raise ValidateError(
                f"{run_date}: bronze rows {counts.bronze} != (silver {counts.silver} - estimated {counts.estimated}) "
                f"+ quarantined {counts.quarantined}")
    return record


def main(settings: Settings, run_date: date, spark: SparkSession | None = None,
         catalogue: DataFrame | None = None) -> list[RunRecord]:
    """Validate ``run_date``'s meter readings (bronze -> silver + quarantine)."""
    spark = spark or spark_session(settings, app_name=f"gridlake-validate-{run_date}")
    return [validate_date(spark, settings, run_date, catalogue)]
