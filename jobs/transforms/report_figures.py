"""The figures of the run report, as pure DataFrame functions that notebooks use as well:
the latest run per stage, VEE counts per rule and status, quarantine per reason, the top
anomalies, the load profile by meter class and the voltage-quality objects and verdicts."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas import gold
from schemas.lake import PARTITION_COLUMN

TOP_ANOMALIES = 10


#: The voltage chart shows at most this many sensors and feeders: the worst by share within limits.
VOLTAGE_OBJECTS = 20


def latest_runs(runs: DataFrame) -> DataFrame:
    """Per stage, table and date: the latest run (what the lake holds now; of a run recorded as
    running and then with its outcome, the outcome) and ``runs``, how many runs there were
    (reruns and retries)."""
    key = ("stage", "table", PARTITION_COLUMN)
    newest = Window.partitionBy(*key).orderBy(F.col("started_at").desc(), (F.col("status") == "running").asc(),
                                              F.col("run_id").desc())
    counts = Window.partitionBy(*key)
    return (runs.withColumn("runs", F.size(F.collect_set("run_id").over(counts)))
            .withColumn("_n", F.row_number().over(newest)).where(F.col("_n") == 1).drop("_n"))


def vee_counts(silver: DataFrame, quarantine: DataFrame) -> DataFrame:
    """Rows per (rule, status) over silver and quarantine. A row on which several rules fired
    counts once under each of them; clean rows count under V00_passed."""
    flagged = (silver.select("status", "rule_id")
               .unionByName(quarantine.select(F.lit("REJECTED").alias("status"), "rule_id")))
    return (flagged.select("status", F.explode(F.split(F.coalesce("rule_id", F.lit("")), ",")).alias("rule"))
            .where(F.col("rule") != "")
            .groupBy("rule", "status").agg(F.count(F.lit(1)).alias("rows"))
            .orderBy("rule", "status"))


def status_counts(silver: DataFrame, quarantine: DataFrame) -> DataFrame:
    """Rows per VEE status: silver's statuses, and REJECTED for the quarantine."""
    return (silver.select("status").unionByName(quarantine.select(F.lit("REJECTED").alias("status")))
            .groupBy("status").agg(F.count(F.lit(1)).alias("rows")).orderBy("status"))


def quarantine_counts(quarantine: DataFrame) -> DataFrame:
    """Quarantined rows per rule and reason, most first."""
    return (quarantine.groupBy("rule_id", "reason").agg(F.count(F.lit(1)).alias("rows"))
            .orderBy(F.col("rows").desc(), "rule_id", "reason"))


def top_anomalies(anomalies: DataFrame, n: int = TOP_ANOMALIES) -> DataFrame:
    """The ``n`` meter-days farthest from their baseline, over every feeder."""
    return (anomalies.orderBy(F.abs(F.col("score")).desc(), "meter_id")
            .select("meter_id", "feeder_id", "kwh_import", "baseline_median_kwh", "baseline_days", "score",
                    "direction")
            .limit(n))


def load_profile(meter_hourly: DataFrame, meter_daily: DataFrame, default_interval_s: int) -> DataFrame:
    """Mean kW by local hour per meter class: per meter-hour, imported kWh over the time its
    present intervals cover (kWh x 3600 / (intervals x interval_s)), averaged over the class.

    The class comes from gold meter_daily (which carries the catalogue's); meters without
    one are "unknown". On the autumn DST day the repeated hour's two rows both count.
    """
    classes = meter_daily.select("meter_id", PARTITION_COLUMN,
                                 F.coalesce("meter_class", F.lit("unknown")).alias("meter_class"),
                                 F.coalesce("interval_s", F.lit(default_interval_s)).alias("interval_s"))
    kw = F.col("kwh_import").cast("double") * 3600 / (F.col("intervals") * F.col("interval_s"))
    return (meter_hourly.where((F.col("intervals") > 0) & F.col("kwh_import").isNotNull())
            .join(classes, ["meter_id", PARTITION_COLUMN], "left")
            .withColumn("meter_class", F.coalesce("meter_class", F.lit("unknown")))
            .withColumn("interval_s", F.coalesce("interval_s", F.lit(default_interval_s)))
            .groupBy("meter_class", "local_hour")
            .agg(F.avg(kw).alias("mean_kw"), F.countDistinct("meter_id").alias("meters"))
            .orderBy("meter_class", "local_hour"))


def voltage_objects(voltage_quality: DataFrame, n: int = VOLTAGE_OBJECTS) -> DataFrame:
    """The ``n`` sensors and feeders (the standard's 10-minute basis) with the lowest share
    within limits; meters' indicative rows are counted in ``verdict_counts`` instead."""
    return (voltage_quality.where(F.col("level") != gold.LEVEL_METER)
            .select("level", "object_id", "feeder_id", "samples", "data_share", "within_share", "outside_limits",
                    "voltage_min_v", "voltage_max_v", "verdict")
            .orderBy(F.col("within_share").asc_nulls_first(), "level", "object_id")
            .limit(n))


def verdict_counts(voltage_quality: DataFrame) -> DataFrame:
    """Objects per level, basis and EN 50160 verdict."""
    return (voltage_quality.groupBy("level", "basis", "verdict").agg(F.count(F.lit(1)).alias("objects"))
            .orderBy("level", "basis", "verdict"))
