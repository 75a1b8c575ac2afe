"""Grid analytics as pure DataFrame functions: silver intervals into the gold tables' rows.

Every figure is per local day in the meter's own time zone, so the spring DST day has 23 hours
(92 quarter hours) and the autumn one 25 (100): a day's expected intervals are the seconds
between its two local midnights over the interval length, never a fixed 96. The silver
partition of a date already holds exactly that local day's intervals.

Silver holds one kept row per meter and interval (VEE resolves duplicates), so intervals
are counted as rows. Rows counted: every kept silver interval (VALID, SUSPECT and ESTIMATED_*). Energy includes
estimated intervals (billing figures are built on them, and the share is reported beside
them); voltages exclude estimated intervals, which are not measurements.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas import gold
from schemas.cassandra import Table
from schemas.lake import PARTITION_COLUMN, LakeTable
from schemas.vee import ESTIMATED, KEPT

if TYPE_CHECKING:
    from jobs.runtime.config import AnomaliesConf, TouConf, VoltageQualityConf


#: MAD x 1.4826 estimates the standard deviation of normally distributed values.
MAD_TO_SIGMA = 1.4826


#: EN 50160 limits, as fractions of nominal: +-10% for 95% of the week; never above +10% or below -15%.
WITHIN_BAND = 0.10


UPPER_LIMIT = 1.10


LOWER_LIMIT = 0.85


SENSOR_PHASES = ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v")


_CQL_TO_SPARK = {"text": T.StringType(), "double": T.DoubleType(), "decimal": T.DecimalType(38, 18),
                 "int": T.IntegerType(), "date": T.DateType(), "timestamp": T.TimestampType(),
                 "boolean": T.BooleanType()}


def catalogue_schema(table: Table) -> T.StructType:
    """The Spark schema the Cassandra connector gives a catalogue table (``meters``, ``sensors``)."""
    return T.StructType([T.StructField(name, _CQL_TO_SPARK[cql], True) for name, cql in table.columns.items()])


def local_span_seconds(first_day: SparkColumn, after_last_day: SparkColumn, timezone: SparkColumn) -> SparkColumn:
    """Seconds from local midnight starting ``first_day`` to local midnight starting
    ``after_last_day`` in ``timezone``: 82,800 / 86,400 / 90,000 for one day around DST."""
    start = F.to_utc_timestamp(first_day.cast("timestamp"), timezone)
    end = F.to_utc_timestamp(after_last_day.cast("timestamp"), timezone)
    return end.cast("long") - start.cast("long")


def is_working_day(day: SparkColumn, holidays: list[date]) -> SparkColumn:
    """Monday to Friday and not a holiday (conf ``aggregates.tou.holidays``)."""
    weekday = F.dayofweek(day).between(2, 6)  # 1 = Sunday, 7 = Saturday
    return weekday & ~day.isin(holidays) if holidays else weekday


def _earliest_max(value: SparkColumn, ts: SparkColumn) -> SparkColumn:
    """A struct whose max() is the largest ``value``, ties to the earliest ``ts``."""
    return F.struct(value.alias("value"), (-ts.cast("long")).alias("neg_epoch"))


def _peak_time(peak: SparkColumn) -> SparkColumn:
    return F.when(peak["value"].isNotNull(), F.timestamp_seconds(-peak["neg_epoch"]))


def _ratio(numerator: SparkColumn, denominator: SparkColumn) -> SparkColumn:
    return F.when(denominator > 0, numerator / denominator)


def conform(frame: DataFrame, table: LakeTable) -> DataFrame:
    """Select the table's columns in order, each cast (rounded half up) to its storage type."""
    return frame.select([F.col(c.name).cast(c.spark_type()).alias(c.name) for c in table.columns])


def enrich_intervals(silver: DataFrame, meters: DataFrame, default_timezone: str) -> DataFrame:
    """Kept silver intervals with their meter's catalogue entry, local time and demand.

    Adds timezone, local_ts, estimated (bool), kw_import = kWh x 3600 / interval_s and
    kw_net = (import - export) in kW. A meter missing from the catalogue keeps null areas and
    the grid's default time zone.
    """
    catalogue = meters.select(
        "meter_id", "meter_class", "tariff", "feeder_id", "substation_id", "region",
        F.col("timezone").alias("catalogue_timezone"),
        F.col("nominal_voltage_v").alias("nominal_voltage_v"),
        F.col("interval_s").alias("catalogue_interval_s"),
    )
    kept = silver.where(F.col("status").isin(list(KEPT)))
    joined = kept.join(F.broadcast(catalogue), "meter_id", "left")
    timezone = F.coalesce(F.col("catalogue_timezone"), F.lit(default_timezone))
    interval_s = F.coalesce(F.col("interval_s"), F.col("catalogue_interval_s"))
    import_kwh = F.col("kwh_import")
    net_kwh = F.coalesce(import_kwh, F.lit(0)) - F.coalesce(F.col("kwh_export"), F.lit(0))
    return (
        joined.withColumn("timezone", timezone)
        .withColumn("interval_s", interval_s)
        .withColumn("local_ts", F.from_utc_timestamp(F.col("ts"), F.col("timezone")))
        .withColumn("estimated", F.col("status").isin(list(ESTIMATED)))
        # Demand in double: decimal division widens past 18 digits into slow BigDecimal
        # arithmetic; gold stores kW rounded to 3 decimals anyway.
        .withColumn("kw_import", import_kwh.cast("double") * 3600 / F.col("interval_s"))
        .withColumn("kw_net", net_kwh.cast("double") * 3600 / F.col("interval_s"))
    )


def meter_hourly(intervals: DataFrame) -> DataFrame:
    """kWh per meter and local hour. The hour starts at the UTC instant where the local clock
    reads hh:00, so half-hour zones and the repeated autumn hour both come out right."""
    minutes_into_hour = F.minute("local_ts") * 60 + F.second("local_ts")
    hour_start = F.timestamp_seconds(F.col("ts").cast("long") - minutes_into_hour)
    offset_min = ((F.col("local_ts").cast("long") - F.col("ts").cast("long")) / 60).cast("int")
    voltage = F.when(~F.col("estimated"), F.col("voltage_v"))
    return (
        intervals.withColumn("hour_start", hour_start)
        .withColumn("local_hour", F.hour("local_ts"))
        .withColumn("utc_offset_min", offset_min)
        .groupBy("meter_id", PARTITION_COLUMN, "hour_start")
        .agg(
            F.first("local_hour").alias("local_hour"),
            F.first("utc_offset_min").alias("utc_offset_min"),
            F.sum("kwh_import").alias("kwh_import"),
            F.sum("kwh_export").alias("kwh_export"),
            F.max("kw_import").alias("peak_kw"),
            F.avg(voltage).alias("voltage_mean_v"),
            F.count("ts").alias("intervals"),
            F.count(F.when(F.col("estimated"), True)).alias("intervals_estimated"),
        )
        .transform(lambda frame: conform(frame, gold.METER_HOURLY))
    )


def meter_daily(intervals: DataFrame) -> DataFrame:
    """One row per meter and local day: energy in and out, peak demand and its time, load
    factor (mean interval demand / peak), voltage range, estimated share and completeness."""
    voltage = F.when(~F.col("estimated"), F.col("voltage_v"))
    peak = F.max(_earliest_max(F.col("kw_import"), F.col("ts")))
    daily = intervals.groupBy("meter_id", PARTITION_COLUMN).agg(
        F.first("meter_class", ignorenulls=True).alias("meter_class"),
        F.first("tariff", ignorenulls=True).alias("tariff"),
        F.first("feeder_id", ignorenulls=True).alias("feeder_id"),
        F.first("substation_id", ignorenulls=True).alias("substation_id"),
        F.first("region", ignorenulls=True).alias("region"),
        F.first("timezone").alias("timezone"),
        F.coalesce(F.first("catalogue_interval_s", ignorenulls=True), F.max("interval_s")).alias("interval_s"),
        F.sum("kwh_import").alias("kwh_import"),
        F.sum("kwh_export").alias("kwh_export"),
        peak.alias("peak"),
        F.avg("kw_import").alias("mean_kw"),
        F.min(voltage).alias("voltage_min_v"),
        F.avg(voltage).alias("voltage_mean_v"),
        F.max(voltage).alias("voltage_max_v"),
        F.count("ts").alias("intervals"),
        F.count(F.when(F.col("estimated"), True)).alias("intervals_estimated"),
    )
    day = F.col(PARTITION_COLUMN)
    expected = local_span_seconds(day, F.date_add(day, 1), F.col("timezone")) / F.col("interval_s")
    return (
        daily.withColumn("peak_kw", F.col("peak")["value"])
        .withColumn("peak_at", _peak_time(F.col("peak")))
        .withColumn("load_factor", _ratio(F.col("mean_kw"), F.col("peak_kw")))
        .withColumn("intervals_expected", expected.cast("int"))
        .withColumn("estimated_share", _ratio(F.col("intervals_estimated"), F.col("intervals")))
        .withColumn("completeness", _ratio(F.col("intervals"), F.col("intervals_expected")))
        .transform(lambda frame: conform(frame, gold.METER_DAILY))
    )


def meter_monthly(meter_daily_of_month: DataFrame) -> DataFrame:
    """One row per meter and local calendar month (``date`` = the 1st) from its gold
    meter_daily rows; completeness counts against every interval of the whole month."""
    month_start = F.trunc(F.col(PARTITION_COLUMN), "month")
    intervals_hours = F.col("intervals") * F.col("interval_s") / 3600
    monthly = meter_daily_of_month.withColumn("month_start", month_start).groupBy("meter_id", "month_start").agg(
        F.max_by("feeder_id", PARTITION_COLUMN).alias("feeder_id"),
        F.max_by("substation_id", PARTITION_COLUMN).alias("substation_id"),
        F.max_by("region", PARTITION_COLUMN).alias("region"),
        F.max_by("timezone", PARTITION_COLUMN).alias("timezone"),
        F.max_by("interval_s", PARTITION_COLUMN).alias("interval_s"),
        F.sum("kwh_import").alias("kwh_import"),
        F.sum("kwh_export").alias("kwh_export"),
        F.max(_earliest_max(F.col("peak_kw"), F.col("peak_at"))).alias("peak"),
        F.sum(F.when(F.col("kwh_import").isNotNull(), intervals_hours)).alias("hours_metered"),
        F.min("voltage_min_v").alias("voltage_min_v"),
        F.max("voltage_max_v").alias("voltage_max_v"),
        F.count(F.lit(1)).alias("days_with_data"),
        F.sum("intervals").alias("intervals"),
        F.sum("intervals_estimated").alias("intervals_estimated"),
    )
    first = F.col(PARTITION_COLUMN)
    expected = local_span_seconds(first, F.add_months(first, 1), F.col("timezone")) / F.col("interval_s")
    mean_kw = _ratio(F.col("kwh_import"), F.col("hours_metered"))
    return (
        monthly.withColumnRenamed("month_start", PARTITION_COLUMN)
        .withColumn("month_end", F.last_day(F.col(PARTITION_COLUMN)))
        .withColumn("peak_kw", F.col("peak")["value"])
        .withColumn("peak_at", _peak_time(F.col("peak")))
        .withColumn("load_factor", _ratio(mean_kw, F.col("peak_kw")))
        .withColumn("intervals_expected", expected.cast("int"))
        .withColumn("estimated_share", _ratio(F.col("intervals_estimated"), F.col("intervals")))
        .withColumn("completeness", _ratio(F.col("intervals"), F.col("intervals_expected")))
        .transform(lambda frame: conform(frame, gold.METER_MONTHLY))
    )


def meter_roster(meters: DataFrame, day: date, default_timezone: str, default_interval_s: int) -> DataFrame:
    """Catalogue meters active on local ``day``, with the intervals that day has for each."""
    active = (F.coalesce(F.col("active_from"), F.lit(day)) <= F.lit(day)) & (
        F.col("active_to").isNull() | (F.col("active_to") >= F.lit(day)))
    timezone = F.coalesce(F.col("timezone"), F.lit(default_timezone))
    interval_s = F.coalesce(F.col("interval_s"), F.lit(default_interval_s))
    return meters.where(active).select(
        "meter_id", F.lit(day).alias(PARTITION_COLUMN), "feeder_id", "substation_id", "region",
        (local_span_seconds(F.lit(day), F.date_add(F.lit(day), 1), timezone) / interval_s)
        .cast("int").alias("intervals_expected"),
    )


def area_daily(meter_daily_rows: DataFrame, intervals: DataFrame, roster: DataFrame, area_column: str,
               table: LakeTable) -> DataFrame:
    """One row per area (feeder, substation or region) and local day.

    Energy sums its meters; the coincident peak is the largest sum over its meters of net
    demand (import - export, what the area's lines carry) at one interval start; completeness
    counts every catalogue meter active that day, a silent one with 0 intervals.
    """
    reporting = meter_daily_rows.select("meter_id", PARTITION_COLUMN, area_column, "kwh_import", "kwh_export",
                                        "intervals", "intervals_expected")
    silent = (roster.join(reporting.select("meter_id"), "meter_id", "left_anti")
              .select("meter_id", PARTITION_COLUMN, area_column,
                      F.lit(None).cast(gold.KWH_TOTAL).alias("kwh_import"),
                      F.lit(None).cast(gold.KWH_TOTAL).alias("kwh_export"),
                      F.lit(0).alias("intervals"), "intervals_expected"))
    population = reporting.unionByName(silent).where(F.col(area_column).isNotNull())
    totals = population.groupBy(area_column, PARTITION_COLUMN).agg(
        F.sum("kwh_import").alias("kwh_import"),
        F.sum("kwh_export").alias("kwh_export"),
        F.count(F.when(F.col("intervals") > 0, True)).alias("meter_count"),
        F.count(F.lit(1)).alias("meters_expected"),
        F.sum("intervals").alias("intervals"),
        F.sum("intervals_expected").alias("intervals_expected"),
    )
    per_interval = (intervals.where(F.col(area_column).isNotNull())
                    .groupBy(area_column, PARTITION_COLUMN, "ts").agg(F.sum("kw_net").alias("kw")))
    peaks = per_interval.groupBy(area_column, PARTITION_COLUMN).agg(
        F.max(_earliest_max(F.col("kw"), F.col("ts"))).alias("peak"))
    return (
        totals.join(peaks, [area_column, PARTITION_COLUMN], "left")
        .withColumn("coincident_peak_kw", F.col("peak")["value"])
        .withColumn("coincident_peak_at", _peak_time(F.col("peak")))
        .withColumn("completeness", _ratio(F.col("intervals"), F.col("intervals_expected")))
        .transform(lambda frame: conform(frame, table))
    )


def feeder_daily(meter_daily_rows: DataFrame, intervals: DataFrame, roster: DataFrame) -> DataFrame:
    """area_daily per feeder."""
    return area_daily(meter_daily_rows, intervals, roster, "feeder_id", gold.FEEDER_DAILY)


def substation_daily(meter_daily_rows: DataFrame, intervals: DataFrame, roster: DataFrame) -> DataFrame:
    """area_daily per substation."""
    return area_daily(meter_daily_rows, intervals, roster, "substation_id", gold.SUBSTATION_DAILY)


def region_daily(meter_daily_rows: DataFrame, intervals: DataFrame, roster: DataFrame) -> DataFrame:
    """area_daily per region."""
    return area_daily(meter_daily_rows, intervals, roster, "region", gold.REGION_DAILY)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def tou_band(tou: TouConf) -> SparkColumn:
    """The band of each interval: the first band of its tariff whose day kind and local clock
    times [start, end) hold the interval's local start; the default band for other tariffs."""
    minute = F.hour("local_ts") * 60 + F.minute("local_ts")
    working = is_working_day(F.col(PARTITION_COLUMN), tou.holidays)
    band: SparkColumn | None = None
    for tariff, bands in tou.tariffs.items():
        for rule in bands:
            start, end = _minutes(rule.start), _minutes(rule.end)
            clock = (minute >= start) & (minute < end) if start < end else (minute >= start) | (minute < end)
            days = {"all": F.lit(True), "working": working, "non_working": ~working}[rule.days]
            condition = (F.col("tariff") == tariff) & days & clock
            band = F.when(condition, F.lit(rule.band)) if band is None else band.when(condition, F.lit(rule.band))
        listed = F.col("tariff") == tariff
        band = F.when(listed, F.lit(tou.unbanded)) if band is None else band.when(listed, F.lit(tou.unbanded))
    return F.lit(tou.default_band) if band is None else band.otherwise(F.lit(tou.default_band))


def tou_daily(intervals: DataFrame, tou: TouConf) -> DataFrame:
    """kWh in and out per meter, local day and time-of-use band of the meter's tariff."""
    return (
        intervals.withColumn("band", tou_band(tou))
        .groupBy("meter_id", PARTITION_COLUMN, "band")
        .agg(F.first("tariff", ignorenulls=True).alias("tariff"),
             F.sum("kwh_import").alias("kwh_import"),
             F.sum("kwh_export").alias("kwh_export"),
             F.count("ts").alias("intervals"))
        .transform(lambda frame: conform(frame, gold.TOU_DAILY))
    )


def week_of(day: date) -> tuple[date, date]:
    """The Monday and the Sunday of ``day``'s week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def voltage_quality(samples: DataFrame, week_start: date, conf: VoltageQualityConf, level: str,
                    basis: str) -> DataFrame:
    """EN 50160 figures per object from voltage samples of one week.

    ``samples``: object_id, feeder_id, phase, ts, voltage_v, nominal_voltage_v, timezone,
    interval_s; one row per object, phase and interval. Shares are per phase, the worst
    phase reported; the data share pools the phases present over the week's expected values.
    """
    nominal = F.col("nominal_voltage_v")
    voltage = F.col("voltage_v")
    within = F.abs(voltage - nominal) <= nominal * WITHIN_BAND
    outside = (voltage > nominal * UPPER_LIMIT) | (voltage < nominal * LOWER_LIMIT)
    per_phase = samples.where(voltage.isNotNull()).groupBy("object_id", "phase").agg(
        F.first("feeder_id", ignorenulls=True).alias("feeder_id"),
        F.first("nominal_voltage_v", ignorenulls=True).alias("nominal_voltage_v"),
        F.first("timezone", ignorenulls=True).alias("timezone"),
        F.max("interval_s").alias("interval_s"),
        F.count("ts").alias("samples"),
        F.count(F.when(within, True)).alias("within"),
        F.count(F.when(outside, True)).alias("outside"),
        F.min(voltage).alias("voltage_min_v"),
        F.max(voltage).alias("voltage_max_v"),
    )
    per_object = per_phase.groupBy("object_id").agg(
        F.first("feeder_id", ignorenulls=True).alias("feeder_id"),
        F.first("nominal_voltage_v", ignorenulls=True).alias("nominal_voltage_v"),
        F.first("timezone", ignorenulls=True).alias("timezone"),
        F.max("interval_s").alias("interval_s"),
        F.count(F.lit(1)).alias("phases"),
        F.sum("samples").alias("samples"),
        F.min(F.col("within") / F.col("samples")).alias("within_share"),
        F.sum("outside").alias("outside_limits"),
        F.min("voltage_min_v").alias("voltage_min_v"),
        F.max("voltage_max_v").alias("voltage_max_v"),
    )
    monday = F.lit(week_start)
    expected = (local_span_seconds(monday, F.date_add(monday, 7), F.col("timezone"))
                / F.col("interval_s") * F.col("phases")).cast("int")
    return (
        per_object.withColumn("samples_expected", expected)
        .withColumn("data_share", _ratio(F.col("samples"), F.col("samples_expected")))
        .withColumn("verdict", _verdict(F.col("data_share"), F.col("within_share"), F.col("outside_limits"), conf))
        .withColumn(PARTITION_COLUMN, monday)
        .withColumn("week_end", F.date_add(monday, 6))
        .withColumn("level", F.lit(level))
        .withColumn("basis", F.lit(basis))
        .transform(lambda frame: conform(frame, gold.VOLTAGE_QUALITY_WEEKLY))
    )


def _verdict(data_share: SparkColumn, within_share: SparkColumn, outside: SparkColumn,
             conf: VoltageQualityConf) -> SparkColumn:
    return (
        F.when(F.coalesce(data_share, F.lit(0)) < conf.min_data_share, F.lit(gold.INSUFFICIENT_DATA))
        .when((within_share >= conf.within_share_required) & (outside == 0), F.lit(gold.COMPLIANT))
        .otherwise(F.lit(gold.NON_COMPLIANT))
    )


def sensor_voltage_samples(sensor_readings: DataFrame, sensors: DataFrame, default_timezone: str) -> DataFrame:
    """One row per sensor, phase and 10-minute interval. Bronze keeps every received version of
    a reading: the latest received one counts."""
    latest = Window.partitionBy("sensor_id", "ts").orderBy(F.col("received_at").desc_nulls_last(),
                                                           F.col("ingest_id").desc())
    readings = (sensor_readings.withColumn("version", F.row_number().over(latest)).where(F.col("version") == 1))
    phases = F.explode(F.array(*[F.struct(F.lit(f"L{n}").alias("phase"), F.col(c).alias("voltage_v"))
                                 for n, c in enumerate(SENSOR_PHASES, start=1)]))
    catalogue = sensors.select("sensor_id", "feeder_id", "nominal_voltage_v",
                               F.col("timezone").alias("catalogue_timezone"),
                               F.col("interval_s").alias("catalogue_interval_s"))
    return (
        readings.select("sensor_id", "ts", "interval_s", phases.alias("sample"))
        .join(F.broadcast(catalogue), "sensor_id")
        .select(F.col("sensor_id").alias("object_id"), "feeder_id", F.col("sample.phase").alias("phase"), "ts",
                F.col("sample.voltage_v").alias("voltage_v"), "nominal_voltage_v",
                F.coalesce("catalogue_timezone", F.lit(default_timezone)).alias("timezone"),
                F.coalesce("interval_s", "catalogue_interval_s").alias("interval_s"))
    )


def meter_voltage_samples(intervals: DataFrame) -> DataFrame:
    """One row per meter and measured (not estimated) 15-minute interval, single phase."""
    return intervals.where(~F.col("estimated")).select(
        F.col("meter_id").alias("object_id"), "feeder_id", F.lit("L1").alias("phase"), "ts", "voltage_v",
        "nominal_voltage_v", "timezone", "interval_s")


def feeder_voltage_quality(sensor_rows: DataFrame, conf: VoltageQualityConf) -> DataFrame:
    """A feeder's week from its sensors' rows: the worst sensor's within share, outside counts
    summed, data pooled; non_compliant if any sensor is, else insufficient_data if any sensor
    lacks data, else compliant."""
    rank = (F.when(F.col("verdict") == gold.NON_COMPLIANT, 2)
            .when(F.col("verdict") == gold.INSUFFICIENT_DATA, 1).otherwise(0))
    worst = F.max(rank)
    return (
        sensor_rows.where(F.col("feeder_id").isNotNull())
        .groupBy(PARTITION_COLUMN, "week_end", "feeder_id").agg(
            F.max("nominal_voltage_v").alias("nominal_voltage_v"),
            F.max("phases").alias("phases"),
            F.sum("samples").alias("samples"),
            F.sum("samples_expected").alias("samples_expected"),
            F.min("within_share").alias("within_share"),
            F.sum("outside_limits").alias("outside_limits"),
            F.min("voltage_min_v").alias("voltage_min_v"),
            F.max("voltage_max_v").alias("voltage_max_v"),
            worst.alias("worst"),
        )
        .withColumn("object_id", F.col("feeder_id"))
        .withColumn("data_share", _ratio(F.col("samples"), F.col("samples_expected")))
        .withColumn("verdict", F.when(F.col("worst") == 2, F.lit(gold.NON_COMPLIANT))
                    .when(F.col("worst") == 1, F.lit(gold.INSUFFICIENT_DATA)).otherwise(F.lit(gold.COMPLIANT)))
        .withColumn("level", F.lit(gold.LEVEL_FEEDER))
        .withColumn("basis", F.lit(gold.BASIS_SENSOR))
        .transform(lambda frame: conform(frame, gold.VOLTAGE_QUALITY_WEEKLY))
    )


def voltage_quality_weekly(sensor_samples: DataFrame, meter_samples: DataFrame, week_start: date,
                           conf: VoltageQualityConf) -> DataFrame:
    """The week's rows for every sensor, every feeder with sensors, and every meter (indicative)."""
    sensors = voltage_quality(sensor_samples, week_start, conf, gold.LEVEL_SENSOR, gold.BASIS_SENSOR)
    meters = voltage_quality(meter_samples, week_start, conf, gold.LEVEL_METER, gold.BASIS_METER_INDICATIVE)
    return sensors.unionByName(feeder_voltage_quality(sensors, conf)).unionByName(meters)


def anomalies(meter_daily_history: DataFrame, day: date, conf: AnomaliesConf, holidays: list[date]) -> DataFrame:
    """The meter-days of ``day`` farthest from their like-day baseline, top N per feeder.

    Baseline: the meter's days of the same kind (working / non-working, holidays count as
    non-working) in the ``baseline_weeks`` weeks before ``day``, each at least
    ``min_completeness`` complete. score = (kWh - median) / max(1.4826 x MAD, floor).
    """
    enough = F.col("completeness") >= conf.min_completeness
    kind = is_working_day(F.col(PARTITION_COLUMN), holidays)
    day_is_working = is_working_day(F.lit(day), holidays)
    first = day - timedelta(weeks=conf.baseline_weeks)
    history = meter_daily_history.where(enough & F.col("kwh_import").isNotNull())
    scored_day = history.where(F.col(PARTITION_COLUMN) == F.lit(day))
    baseline = history.where(F.col(PARTITION_COLUMN).between(F.lit(first), F.lit(day - timedelta(days=1)))
                             & (kind == day_is_working))
    kwh = F.col("kwh_import").cast("double")
    medians = baseline.groupBy("meter_id").agg(F.percentile(kwh, 0.5).alias("median"),
                                               F.count(F.lit(1)).alias("baseline_days"))
    mads = (baseline.join(medians, "meter_id")
            .groupBy("meter_id").agg(F.percentile(F.abs(kwh - F.col("median")), 0.5).alias("mad")))
    scale = F.greatest(F.col("mad") * MAD_TO_SIGMA, F.lit(conf.scale_floor_kwh))
    ranking = Window.partitionBy("feeder_id").orderBy(F.abs(F.col("score")).desc(), F.col("meter_id"))
    return (
        scored_day.join(medians, "meter_id").join(mads, "meter_id")
        .where(F.col("baseline_days") >= conf.min_baseline_days)
        .withColumn("score", (kwh - F.col("median")) / scale)
        .where(F.abs(F.col("score")) >= conf.min_score)
        .withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= conf.top_n)
        .withColumn("direction", F.when(F.col("score") > 0, F.lit("high")).otherwise(F.lit("low")))
        .withColumnRenamed("median", "baseline_median_kwh")
        .withColumnRenamed("mad", "baseline_mad_kwh")
        .transform(lambda frame: conform(frame, gold.ANOMALIES))
    )


def gold_month_end(month_start: date) -> date:
    """The last day of ``month_start``'s month."""
    following = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
