"""Aggregate one local date of validated meter readings (silver) into the gold tables.

Reads silver, bronze sensor readings, earlier gold and the catalogue (Cassandra), calls the
aggregates of jobs/transforms/gold.py and replaces one partition per table:

- ``date`` partitions (meter_hourly, meter_daily, tou_daily, feeder/substation/region_daily,
  anomalies): the run date;
- ``meter_monthly``: partition ``date`` = the 1st of the run date's month, recomputed from
  that month's gold meter_daily;
- ``voltage_quality_weekly``: partition ``date`` = the Monday of the run date's local week,
  recomputed from that week's sensor (bronze) and meter (silver) voltages. A week still in
  progress reads "insufficient_data" until enough of it has arrived.

Reruns for a date replace the same partitions, so runs are idempotent; over a range, run the
dates in order (monthly, weekly and anomaly figures read the earlier days' gold).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import read_catalogue
from jobs.stores.lake import lake_table, read_lake_table
from jobs.stores.runs import RunRecord, recorded_run
from jobs.transforms.gold import (
    anomalies,
    enrich_intervals,
    feeder_daily,
    gold_month_end,
    meter_daily,
    meter_hourly,
    meter_monthly,
    meter_roster,
    meter_voltage_samples,
    region_daily,
    sensor_voltage_samples,
    substation_daily,
    tou_daily,
    voltage_quality_weekly,
    week_of,
)
from schemas import gold
from schemas.cassandra import METERS, SENSORS
from schemas.lake import BRONZE_SENSOR_READINGS, PARTITION_COLUMN, SILVER_METER_READINGS, LakeTable

log = logging.getLogger(__name__)

STAGE = "aggregate"


class AggregateError(RuntimeError):
    """The aggregates could not be computed; no gold partition of the failing table changed."""


def read_dates(spark: SparkSession, settings: Settings, table: LakeTable, first: date, last: date) -> DataFrame:
    """Partitions ``first``..``last`` of a lake table; an empty frame when it does not exist yet."""
    frame = read_lake_table(spark, settings, table, first, last)
    return frame if frame is not None else spark.createDataFrame([], table.spark_schema())


def write_gold(spark: SparkSession, settings: Settings, table: LakeTable, partition: date, run_date: date,
               rows_read: int, build: Callable[[], DataFrame]) -> RunRecord:
    """Replace one gold partition with ``build()``, recorded in ``_runs`` under the run date."""
    ref = lake_table(spark, settings, table)
    with recorded_run(settings.lake_root, STAGE, table.path, run_date) as record:
        record.rows_read = rows_read
        written = ref.replace_partition(build().coalesce(1), partition)
        record.rows_written, record.files, record.bytes = written.rows, written.files, written.bytes
    return record


def run_aggregates(spark: SparkSession, settings: Settings, run_date: date, meters: DataFrame,
                   sensors: DataFrame) -> list[RunRecord]:
    """Every gold table for ``run_date``, from the lake and the given catalogue frames."""
    if not lake_table(spark, settings, SILVER_METER_READINGS).exists():
        raise AggregateError(f"{SILVER_METER_READINGS.path} does not exist under {settings.lake_root}: "
                             "run `gridlake run validate` first")
    conf, grid = settings.aggregates, settings.grid
    monday, sunday = week_of(run_date)
    month_start = run_date.replace(day=1)
    records: list[RunRecord] = []

    # Both catalogues are read several times (sensors: by the voltage quality's sensor and feeder
    # rows): once from Cassandra, then from memory.
    meters = meters.persist()
    sensors = sensors.persist()
    silver_week = read_dates(spark, settings, SILVER_METER_READINGS, monday, sunday)
    intervals_week = enrich_intervals(silver_week, meters, grid.timezone).persist()
    intervals = intervals_week.where(F.col(PARTITION_COLUMN) == F.lit(run_date)).persist()
    try:
        rows_in = intervals.count()
        log.info("stage=%s date=%s silver_rows=%d", STAGE, run_date, rows_in)
        records.append(write_gold(spark, settings, gold.METER_HOURLY, run_date, run_date, rows_in,
                                  lambda: meter_hourly(intervals)))
        daily = meter_daily(intervals).persist()
        try:
            records.append(write_gold(spark, settings, gold.METER_DAILY, run_date, run_date, rows_in, lambda: daily))
            records.append(write_gold(spark, settings, gold.TOU_DAILY, run_date, run_date, rows_in,
                                      lambda: tou_daily(intervals, conf.tou)))
            roster = meter_roster(meters, run_date, grid.timezone, grid.meter_interval_s).persist()
            for table, aggregate in ((gold.FEEDER_DAILY, feeder_daily), (gold.SUBSTATION_DAILY, substation_daily),
                                     (gold.REGION_DAILY, region_daily)):
                records.append(write_gold(spark, settings, table, run_date, run_date, rows_in,
                                          lambda a=aggregate: a(daily, intervals, roster)))
            roster.unpersist()
        finally:
            daily.unpersist()

        month = read_dates(spark, settings, gold.METER_DAILY, month_start, gold_month_end(month_start))
        records.append(write_gold(spark, settings, gold.METER_MONTHLY, month_start, run_date, month.count(),
                                  lambda: meter_monthly(month)))

        sensor_week = read_dates(spark, settings, BRONZE_SENSOR_READINGS, monday, sunday)
        sensor_samples = sensor_voltage_samples(sensor_week, sensors, grid.timezone)
        records.append(write_gold(
            spark, settings, gold.VOLTAGE_QUALITY_WEEKLY, monday, run_date, sensor_week.count(),
            lambda: voltage_quality_weekly(sensor_samples, meter_voltage_samples(intervals_week), monday,
                                           conf.voltage_quality)))

        first = run_date - timedelta(weeks=conf.anomalies.baseline_weeks)
        history = read_dates(spark, settings, gold.METER_DAILY, first, run_date)
        records.append(write_gold(spark, settings, gold.ANOMALIES, run_date, run_date, history.count(),
                                  lambda: anomalies(history, run_date, conf.anomalies, conf.tou.holidays)))
    finally:
        intervals.unpersist()
        intervals_week.unpersist()
        meters.unpersist()
        sensors.unpersist()
    return records


def main(settings: Settings, run_date: date, spark: SparkSession | None = None) -> list[RunRecord]:
    """Aggregate ``run_date``: every gold table's partition for that date (or its week/month)."""
    spark = spark or spark_session(settings, app_name=f"gridlake-aggregate-{run_date}")
    keyspace = settings.cassandra.keyspace
    try:
        meters = read_catalogue(spark, keyspace, METERS)
        sensors = read_catalogue(spark, keyspace, SENSORS)
        meters.limit(1).count()
    except Exception as exc:  # noqa: BLE001 - the connector raises many kinds; all mean "no catalogue"
        raise AggregateError(f"cannot read the catalogue from Cassandra keyspace {keyspace} "
                             f"({type(exc).__name__}); nothing was aggregated") from None
    return run_aggregates(spark, settings, run_date, meters, sensors)
