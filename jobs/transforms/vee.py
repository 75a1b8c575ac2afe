"""VEE of meter readings, as pure DataFrame and Column functions: the rules, estimation, and
which rows go to silver and which to quarantine.

Each row's ``rule_id`` lists the rules that fired on it (schemas/vee.py); thresholds come
from conf ``vee``. Every bronze row goes to exactly one place: silver (VALID or SUSPECT, as
read) or quarantine (REJECTED, with its reason); missing intervals get new ESTIMATED_* rows.

Rules, in the order they apply:
- identity: unknown meter (not in the ``meters`` catalogue), date outside its active dates;
- time: interval not on the meter's grid (or of another length), timestamp in the future
  of its own receipt (or of the day's end when the receipt time is unknown), timestamp
  outside the partition's local day;
- values: physically impossible (beyond the connection's capacity, power factor above 1,
  negative or double-nominal voltage), negative import. Export is never negative-checked;
- duplicates, among the rows still standing: the earliest received version of an interval
  is kept; an exact copy is quarantined (V03); when versions differ the kept one is SUSPECT
  and the others are quarantined (V04): no version is known right, so the first stays;
- the kept series: zero streaks (no import and no export, so a prosumer exporting is not
  a zero), frozen non-zero values, spikes; voltage outside nominal +-tolerance is SUSPECT,
  labelled a feeder sag or swell when enough of the feeder's meters see it at once;
  readings received long after their interval are flagged late but stay VALID.

Estimation runs per gap of consecutive missing intervals of an active, known meter:
linear with both neighbours known and the gap at most ``max_linear_gap_s``; else the
like-day average (up to ``like_days`` nearest earlier same-kind days in silver, by local
clock time); else flat fill from the one known neighbour; never beyond
``max_estimation_gap_s``. Like-day reads earlier dates, so ranges run in date order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas import vee
from schemas.lake import PARTITION_COLUMN, SILVER_METER_READINGS, SILVER_QUARANTINE

if TYPE_CHECKING:
    from jobs.runtime.config import VeeConf


#: ``source`` of an estimated row.
ESTIMATE_SOURCE = "vee"


CHANNELS = ("kwh_import", "kwh_export", "kvarh", "voltage_v", "current_a", "power_factor")


#: The catalogue columns VEE needs (schemas/cassandra.py METERS).
CATALOGUE_COLUMNS = ("meter_id", "meter_class", "feeder_id", "timezone", "nominal_voltage_v", "interval_s",
                     "active_from", "active_to", "capacity_kw")


#: Rules that send a row to quarantine, and those that keep it flagged SUSPECT.
REJECTING = (vee.DUPLICATE_EXACT, vee.NEGATIVE_IMPORT, vee.MISALIGNED, vee.FUTURE_TIMESTAMP, vee.OUTSIDE_DAY,
             vee.UNKNOWN_METER, vee.OUTSIDE_ACTIVE_DATES, vee.IMPOSSIBLE_VALUE)


SUSPECTING = (vee.ZERO_STREAK, vee.FROZEN_VALUE, vee.SPIKE, vee.VOLTAGE_OUT_OF_RANGE, vee.VOLTAGE_SAG,
              vee.VOLTAGE_SWELL)


#: SUSPECT energy values: like-day estimation does not learn from them (voltage flags are fine).
ENERGY_SUSPECT = (vee.DUPLICATE_CONFLICT, vee.ZERO_STREAK, vee.FROZEN_VALUE, vee.SPIKE)


REASONS = {
    vee.DUPLICATE_EXACT: "exact copy of an earlier received reading of the interval",
    vee.DUPLICATE_CONFLICT: "another version of an interval whose earliest received reading is kept",
    vee.NEGATIVE_IMPORT: "negative consumption on the import channel",
    vee.MISALIGNED: "interval not on the meter's interval grid",
    vee.FUTURE_TIMESTAMP: "interval ends after the reading was received",
    vee.OUTSIDE_DAY: "timestamp outside the partition's local day",
    vee.UNKNOWN_METER: "meter not in the catalogue",
    vee.OUTSIDE_ACTIVE_DATES: "date outside the meter's active dates",
    vee.IMPOSSIBLE_VALUE: "physically impossible value",
}


_RULES = "_rules"


_REJECTED = "_rejected"


# -- rule plumbing --------------------------------------------------------------------------
# A rule is a named function giving the condition under which it fires; the conditions of
# one stage are evaluated in a single projection (a long chain of withColumn makes Spark's
# plans slow to build).
def _fire(rules: list[tuple[str, Column]]) -> Column:
    """The ids of the rules whose condition holds (a null condition does not fire), added to ``_rules``."""
    fired = F.array_compact(F.array(*[F.when(condition, F.lit(rule_id)) for rule_id, condition in rules]))
    return F.array_union(F.col(_RULES), fired)


def _has_any(rules: tuple[str, ...]) -> Column:
    return F.exists(_RULES, lambda rule: rule.isin(*rules))


def _epoch(column: str | Column) -> Column:
    return (F.col(column) if isinstance(column, str) else column).cast("long")


def with_catalogue(bronze: DataFrame, catalogue: DataFrame) -> DataFrame:
    """Each reading with its meter's catalogue entry (``cat_*``; null for an unknown meter),
    the UTC bounds of its local day and an empty rule list."""
    entries = catalogue.select(
        "meter_id", F.lit(True).alias("cat_known"), F.col("meter_class").alias("cat_class"),
        F.col("feeder_id").alias("cat_feeder_id"), F.col("timezone").alias("cat_timezone"),
        F.col("nominal_voltage_v").cast("double").alias("cat_nominal_v"),
        F.col("interval_s").alias("cat_interval_s"), F.col("active_from").alias("cat_active_from"),
        F.col("active_to").alias("cat_active_to"), F.col("capacity_kw").alias("cat_capacity_kw"))
    joined = bronze.join(F.broadcast(entries), "meter_id", "left")
    local_midnight = F.col(PARTITION_COLUMN).cast("timestamp")
    next_midnight = F.date_add(PARTITION_COLUMN, 1).cast("timestamp")
    return joined.select(
        *[c for c in joined.columns if c != "cat_known"], F.coalesce("cat_known", F.lit(False)).alias("cat_known"),
        F.to_utc_timestamp(local_midnight, F.col("cat_timezone")).alias("_day_start"),
        F.to_utc_timestamp(next_midnight, F.col("cat_timezone")).alias("_day_end"),
        F.array().cast("array<string>").alias(_RULES))


# -- row rules: each a condition on one reading and its catalogue entry ---------------------
def v12_unknown_meter(conf: VeeConf) -> Column:
    return ~F.col("cat_known")


def v13_outside_active_dates(conf: VeeConf) -> Column:
    return (F.col(PARTITION_COLUMN) < F.col("cat_active_from")) | (
        F.col("cat_active_to").isNotNull() & (F.col(PARTITION_COLUMN) > F.col("cat_active_to")))


def v09_misaligned(conf: VeeConf) -> Column:
    """Not on the meter's interval grid from local midnight, or of another interval length."""
    off_grid = ((_epoch("ts") - _epoch("_day_start")) % F.col("cat_interval_s")) != 0
    return off_grid | (F.col("interval_s") != F.col("cat_interval_s"))


def v10_future_timestamp(conf: VeeConf) -> Column:
    """The interval ends after the reading was received (or, receipt unknown, after the day)."""
    interval_end = _epoch("ts") + F.coalesce("interval_s", "cat_interval_s")
    reference = F.coalesce(_epoch("received_at"), _epoch("_day_end"))
    return interval_end > reference + conf.future_tolerance_s


def v11_outside_day(conf: VeeConf) -> Column:
    return (F.col("ts") < F.col("_day_start")) | (F.col("ts") >= F.col("_day_end"))


def v14_impossible_value(conf: VeeConf) -> Column:
    """Energy beyond the connection's capacity (the catalogue's rating of the meter's connection,
    else its class's), power factor above 1, negative or double-nominal voltage."""
    capacity_kw = F.create_map(*[F.lit(x) for pair in conf.connection_kw.items() for x in pair])
    kw = F.coalesce("cat_capacity_kw", capacity_kw[F.col("cat_class")], F.lit(conf.connection_kw["default"]))
    limit_kwh = kw * F.col("cat_interval_s") / 3600 * conf.impossible_factor
    return ((F.col("kwh_import") > limit_kwh) | (F.col("kwh_export") > limit_kwh)
            | (F.abs("power_factor") > 1)
            | (F.col("voltage_v") < 0) | (F.col("voltage_v") > 2 * F.col("cat_nominal_v")))


def v05_negative_import(conf: VeeConf) -> Column:
    """Negative consumption on the import channel (export is a channel of its own)."""
    return F.col("kwh_import") < 0


ROW_RULES = ((vee.UNKNOWN_METER, v12_unknown_meter), (vee.OUTSIDE_ACTIVE_DATES, v13_outside_active_dates),
             (vee.MISALIGNED, v09_misaligned), (vee.FUTURE_TIMESTAMP, v10_future_timestamp),
             (vee.OUTSIDE_DAY, v11_outside_day), (vee.IMPOSSIBLE_VALUE, v14_impossible_value),
             (vee.NEGATIVE_IMPORT, v05_negative_import))


def apply_row_rules(frame: DataFrame, conf: VeeConf) -> DataFrame:
    """Every row rule at once; ``_rejected`` marks the rows that one of them rejects."""
    ruled = frame.withColumn(_RULES, _fire([(rule_id, rule(conf)) for rule_id, rule in ROW_RULES]))
    return ruled.withColumn(_REJECTED, _has_any(REJECTING))


def v03_v04_duplicates(frame: DataFrame) -> DataFrame:
    """Among the rows still standing, keep the earliest received version of each interval
    (ties: smallest ingest_id). A copy equal to it in every channel is an exact duplicate
    (quarantined, V03); a different one is a conflicting duplicate (quarantined, V04), and
    the kept version becomes SUSPECT (V04): which version is right is unknown."""
    interval = Window.partitionBy("meter_id", "ts", _REJECTED)
    order = interval.orderBy(F.col("received_at").asc_nulls_last(), "ingest_id")
    first = F.first(F.struct("interval_s", *CHANNELS)).over(order.rowsBetween(Window.unboundedPreceding,
                                                                                Window.unboundedFollowing))
    same = reduce(lambda a, b: a & b, [F.col(c).eqNullSafe(first[c]) for c in ("interval_s", *CHANNELS)])
    ranked = frame.select("*", F.row_number().over(order).alias("_rank"), same.alias("_same"))
    ranked = ranked.withColumn("_conflicts", F.max((~F.col("_same")).cast("int")).over(interval))
    standing = ~F.col(_REJECTED)
    copy = standing & (F.col("_rank") > 1)
    fired = _fire([(vee.DUPLICATE_EXACT, copy & F.col("_same")),
                   (vee.DUPLICATE_CONFLICT, standing & (F.col("_conflicts") == 1)
                    & ((F.col("_rank") == 1) | ~F.col("_same")))])
    return ranked.select(*[c for c in frame.columns if c not in (_RULES, _REJECTED)], fired.alias(_RULES),
                         (F.col(_REJECTED) | copy).alias(_REJECTED))


# -- series rules: conditions over the kept rows of one meter-day, in time order -----------
def _series() -> Window:
    return Window.partitionBy("meter_id", PARTITION_COLUMN).orderBy("ts")


def with_series_levels(kept: DataFrame, conf: VeeConf) -> DataFrame:
    """What the series rules look at: ``_zero_run`` (length of the run of no-import,
    no-export intervals a row is in), ``_value_run`` (of equal imports), ``_third`` (the day's
    third-highest import), ``_median`` (of the import over the spike window) and
    ``_neighbours`` (the higher of the two adjacent imports)."""
    series = _series()
    day = Window.partitionBy("meter_id", PARTITION_COLUMN)
    near = series.rowsBetween(-conf.spike_window_intervals, conf.spike_window_intervals)
    x = F.col("kwh_import").cast("double")
    zero = F.coalesce((F.col("kwh_import") == 0) & (F.coalesce("kwh_export", F.lit(0)) == 0), F.lit(False))
    values = F.sort_array(F.collect_list(x).over(near))
    size = F.size(values)
    levels = kept.select(
        "*", zero.alias("_zero"),
        F.element_at(F.sort_array(F.collect_list(x).over(day), asc=False), 3).alias("_third"),
        F.greatest(F.lag(x).over(series), F.lead(x).over(series)).alias("_neighbours"),
        ((F.element_at(values, F.floor((size + 1) / 2).cast("int"))
          + F.element_at(values, (F.floor(size / 2) + 1).cast("int"))) / 2).alias("_median"))
    changed = [F.coalesce(~F.lag(c).over(series).eqNullSafe(F.col(c)), F.lit(True)).cast("int").alias(f"_new{c}")
               for c in ("_zero", "kwh_import")]
    islands = levels.select("*", *changed).select(
        "*", *[F.sum(f"_new{c}").over(series.rowsBetween(Window.unboundedPreceding, 0)).alias(f"_isl{c}")
               for c in ("_zero", "kwh_import")])
    return islands.select(
        *levels.columns,
        F.count(F.lit(1)).over(Window.partitionBy("meter_id", PARTITION_COLUMN, "_isl_zero")).alias("_zero_run"),
        F.count(F.lit(1)).over(Window.partitionBy("meter_id", PARTITION_COLUMN, "_islkwh_import")).alias("_value_run"))


def v06_zero_streak(conf: VeeConf) -> Column:
    """More than ``zero_streak_max_intervals`` intervals in a row with neither import nor
    export (a prosumer exporting imports nothing, rightly)."""
    return F.col("_zero") & (F.col("_zero_run") > conf.zero_streak_max_intervals)


def v07_frozen_value(conf: VeeConf) -> Column:
    """The same non-zero import in at least ``frozen_min_intervals`` intervals in a row."""
    return (F.col("kwh_import") != 0) & (F.col("_value_run") >= conf.frozen_min_intervals)


def v08_spike(conf: VeeConf) -> Column:
    """An interval far above the day's robust level: at least ``spike_day_factor`` x the
    day's third-highest interval; or one of the three highest that stands
    ``spike_local_factor`` x above the median of its neighbourhood and ``spike_day_factor`` x
    above both adjacent intervals (a spike capped near the connection's capacity on a busy
    meter is no outlier for the day, only for its hour; a block of high intervals is a load)."""
    x = F.col("kwh_import").cast("double")
    day_outlier = (F.col("_third") > 0) & (x >= conf.spike_day_factor * F.col("_third"))
    local_outlier = ((x > 0) & (x >= F.col("_third")) & (x >= conf.spike_local_factor * F.col("_median"))
                     & (x - F.col("_median") >= conf.spike_min_kwh)
                     & (x >= conf.spike_day_factor * F.coalesce(F.col("_neighbours"), F.lit(0.0))))
    return day_outlier | local_outlier


def with_feeder_voltage(kept: DataFrame, conf: VeeConf) -> DataFrame:
    """``_low``/``_high``: voltage outside nominal +-tolerance; ``_lows``/``_highs``: how many
    of the feeder's meters are low/high at the same instant, of ``_reporting`` with a voltage."""
    low = F.col("voltage_v") < F.col("cat_nominal_v") * (1 - conf.voltage_tolerance)
    high = F.col("voltage_v") > F.col("cat_nominal_v") * (1 + conf.voltage_tolerance)
    instant = Window.partitionBy("cat_feeder_id", "ts")
    marked = kept.select("*", F.coalesce(low, F.lit(False)).alias("_low"), F.coalesce(high, F.lit(False)).alias("_high"))
    return marked.select("*", F.count("voltage_v").over(instant).alias("_reporting"),
                         F.sum(F.col("_low").cast("int")).over(instant).alias("_lows"),
                         F.sum(F.col("_high").cast("int")).over(instant).alias("_highs"))


def _feeder_wide(count: str, conf: VeeConf) -> Column:
    return (F.col(count) >= conf.grid_event_min_meters) & (F.col(count) >= conf.grid_event_share * F.col("_reporting"))


def v16_voltage_sag(conf: VeeConf) -> Column:
    """Low voltage seen by enough of the feeder's meters at once: a grid event, SUSPECT."""
    return F.col("_low") & _feeder_wide("_lows", conf)


def v17_voltage_swell(conf: VeeConf) -> Column:
    return F.col("_high") & _feeder_wide("_highs", conf)


def v15_voltage_out_of_range(conf: VeeConf) -> Column:
    """Voltage outside nominal +-tolerance on this meter alone (a meter or service fault)."""
    return (F.col("_low") & ~_feeder_wide("_lows", conf)) | (F.col("_high") & ~_feeder_wide("_highs", conf))


def v18_late_arrival(conf: VeeConf) -> Column:
    """Received more than ``late_after_s`` after the interval ended: kept VALID, but marked,
    so a figure that changed after publication can be explained."""
    return _epoch("received_at") - (_epoch("ts") + F.col("interval_s")) > conf.late_after_s


SERIES_RULES = ((vee.ZERO_STREAK, v06_zero_streak), (vee.FROZEN_VALUE, v07_frozen_value), (vee.SPIKE, v08_spike),
                (vee.VOLTAGE_SAG, v16_voltage_sag), (vee.VOLTAGE_SWELL, v17_voltage_swell),
                (vee.VOLTAGE_OUT_OF_RANGE, v15_voltage_out_of_range), (vee.LATE_ARRIVAL, v18_late_arrival))


def apply_series_rules(kept: DataFrame, conf: VeeConf) -> DataFrame:
    leveled = with_feeder_voltage(with_series_levels(kept, conf), conf)
    return leveled.select(*[c for c in kept.columns if c != _RULES],
                          _fire([(rule_id, rule(conf)) for rule_id, rule in SERIES_RULES]).alias(_RULES))


def _with_status(frame: DataFrame, conf: VeeConf) -> DataFrame:
    rules = F.array_sort(_RULES)
    status = (F.when(F.col(_REJECTED), F.lit(vee.REJECTED))
              .when(_has_any((*SUSPECTING, vee.DUPLICATE_CONFLICT)), F.lit(vee.SUSPECT))
              .otherwise(F.lit(vee.VALID)))
    return frame.select("*", status.alias("status"),
                        F.when(F.size(rules) > 0, F.concat_ws(",", rules)).otherwise(F.lit(vee.PASSED)).alias("rule_id"),
                        F.lit(conf.ruleset_version).alias("ruleset_version"))


def check_readings(bronze: DataFrame, catalogue: DataFrame, conf: VeeConf) -> DataFrame:
    """Every bronze row with its ``status``, ``rule_id`` and ``ruleset_version`` (and the
    catalogue columns ``cat_*`` the estimation needs)."""
    frame = v03_v04_duplicates(apply_row_rules(with_catalogue(bronze, catalogue), conf))
    kept = apply_series_rules(frame.where(~F.col(_REJECTED)), conf)
    return _with_status(kept.unionByName(frame.where(F.col(_REJECTED))), conf)


def quarantine_rows(checked: DataFrame) -> DataFrame:
    """The REJECTED rows as read, with their reason, rule ids and rule-set version."""
    reasons = F.create_map(*[F.lit(x) for pair in REASONS.items() for x in pair])
    rejecting = F.filter(F.array_sort(_RULES), lambda rule: rule.isin(*REASONS))
    reason = F.concat_ws("; ", F.transform(rejecting, lambda rule: reasons[rule]))
    return (checked.where(F.col("status") == vee.REJECTED).withColumn("reason", reason)
            .select(*[F.col(c.name).cast(c.spark_type()) for c in SILVER_QUARANTINE.columns]))


# -- estimation ---------------------------------------------------------------------------------
def _local_clock(ts: Column, timezone: Column) -> Column:
    return F.date_format(F.from_utc_timestamp(ts, timezone), "HH:mm")


def like_day_profile(history: DataFrame, catalogue: DataFrame, run_date: date, conf: VeeConf) -> DataFrame:
    """Per meter and local clock time (HH:mm), the mean of each channel over the
    ``like_days`` nearest earlier dates of the same kind (weekday or weekend) in ``history``
    (silver): from VALID rows and rows SUSPECT only for voltage."""
    weekend = run_date.weekday() >= 5
    first = run_date - timedelta(days=conf.like_day_lookback_days)
    is_weekend = F.dayofweek(PARTITION_COLUMN).isin(1, 7)
    usable = ((F.col("status") == vee.VALID) | (
        (F.col("status") == vee.SUSPECT) & ~F.col("rule_id").rlike("|".join(ENERGY_SUSPECT))))
    rows = history.where((F.col(PARTITION_COLUMN) >= F.lit(first)) & (F.col(PARTITION_COLUMN) < F.lit(run_date))
                         & (is_weekend == F.lit(weekend)) & usable)
    nearest = (rows.select("meter_id", PARTITION_COLUMN).distinct()
               .withColumn("_n", F.row_number().over(Window.partitionBy("meter_id").orderBy(F.desc(PARTITION_COLUMN))))
               .where(F.col("_n") <= conf.like_days).drop("_n"))
    zones = catalogue.select("meter_id", F.col("timezone").alias("_tz"))
    return (rows.join(nearest, ["meter_id", PARTITION_COLUMN]).join(F.broadcast(zones), "meter_id")
            .withColumn("_clock", _local_clock(F.col("ts"), F.col("_tz")))
            .groupBy("meter_id", "_clock")
            .agg(*[F.avg(F.col(c).cast("double")).alias(f"like_{c}") for c in CHANNELS]))


def expected_intervals(catalogue: DataFrame, run_date: date) -> DataFrame:
    """Every interval (``_k``, ``ts``) of ``run_date`` of every meter active that day: 96
    quarter hours on an ordinary day, 92 or 100 on the DST days."""
    day = F.lit(run_date)
    active = catalogue.where((F.col("active_from") <= day) & (F.col("active_to").isNull() | (F.col("active_to") >= day)))
    start = _epoch(F.to_utc_timestamp(day.cast("timestamp"), F.col("timezone")))
    end = _epoch(F.to_utc_timestamp(F.date_add(day, 1).cast("timestamp"), F.col("timezone")))
    return (active.withColumn("_n", ((end - start) / F.col("interval_s")).cast("int"))
            .select("meter_id", "timezone", F.col("interval_s").alias("cat_interval_s"), "_n",
                    F.posexplode(F.sequence(F.lit(0), F.col("_n") - 1)).alias("_k", "_unused"), start.alias("_start"))
            .withColumn("ts", F.timestamp_seconds(F.col("_start") + F.col("_k") * F.col("cat_interval_s")))
            .drop("_unused", "_start"))


def estimate_gaps(checked: DataFrame, catalogue: DataFrame, history: DataFrame | None, run_date: date,
                  conf: VeeConf) -> DataFrame:
    """New ESTIMATED_* rows (silver schema) for the intervals of active, known meters that
    have no kept reading. The rule id says why the interval is empty: a missing interval, a
    missing day (no kept reading at all), or the rule that rejected the reading there."""
    kept = checked.where(F.col("status") != vee.REJECTED)
    values = kept.select("meter_id", "ts", *CHANNELS).withColumn("_has", F.lit(True))
    causes = (checked.where(F.col("status") == vee.REJECTED)
              .select("meter_id", "ts", F.element_at(F.filter(F.array_sort(_RULES), lambda r: r.isin(*REJECTING)), 1)
                      .alias("_cause"))
              .groupBy("meter_id", "ts").agg(F.min("_cause").alias("_cause")))
    metered_today = kept.select("meter_id").distinct().withColumn("_some", F.lit(True))
    slots = (expected_intervals(catalogue, run_date).join(values, ["meter_id", "ts"], "left")
             .withColumn("_has", F.coalesce("_has", F.lit(False))))
    series = Window.partitionBy("meter_id").orderBy("_k")
    known = F.when(F.col("_has"), F.struct(F.col("_k").alias("k"), *[F.col(c).cast("double").alias(c)
                                                                      for c in CHANNELS]))
    slots = (slots.withColumn("_prev", F.last(known, ignorenulls=True).over(series.rowsBetween(Window.unboundedPreceding, -1)))
             .withColumn("_next", F.first(known, ignorenulls=True).over(series.rowsBetween(1, Window.unboundedFollowing)))
             .where(~F.col("_has")))
    prev_k, next_k = F.col("_prev.k"), F.col("_next.k")
    gap = (F.when(F.col("_prev").isNotNull() & F.col("_next").isNotNull(), next_k - prev_k - 1)
           .when(F.col("_prev").isNotNull(), F.col("_n") - prev_k - 1)
           .when(F.col("_next").isNotNull(), next_k)
           .otherwise(F.col("_n")))
    gaps = (slots.withColumn("_gap_s", gap * F.col("cat_interval_s"))
            .join(causes, ["meter_id", "ts"], "left").join(F.broadcast(metered_today), "meter_id", "left")
            .withColumn("_clock", _local_clock(F.col("ts"), F.col("timezone"))))
    if history is not None:
        gaps = gaps.join(like_day_profile(history, catalogue, run_date, conf), ["meter_id", "_clock"], "left")
    else:
        gaps = gaps.select("*", *[F.lit(None).cast("double").alias(f"like_{c}") for c in CHANNELS])
    both = F.col("_prev").isNotNull() & F.col("_next").isNotNull()
    one = F.col("_prev").isNotNull() != F.col("_next").isNotNull()
    like_known = F.col("like_kwh_import").isNotNull()
    within = F.col("_gap_s") <= conf.max_estimation_gap_s
    method = (F.when(both & (F.col("_gap_s") <= conf.max_linear_gap_s) & within, F.lit(vee.ESTIMATED_LINEAR))
              .when(within & like_known, F.lit(vee.ESTIMATED_LIKE_DAY))
              .when(within & one, F.lit(vee.ESTIMATED_FLAT)))
    share = (F.col("_k") - prev_k) / (next_k - prev_k)

    def estimate(channel: str) -> Column:
        before, after = F.col(f"_prev.{channel}"), F.col(f"_next.{channel}")
        return (F.when(F.col("status") == vee.ESTIMATED_LINEAR, before + (after - before) * share)
                .when(F.col("status") == vee.ESTIMATED_LIKE_DAY, F.col(f"like_{channel}"))
                .otherwise(F.coalesce(before, after)))

    cause = F.coalesce("_cause", F.when(F.col("_some").isNull(), F.lit(vee.MISSING_DAY)),
                       F.lit(vee.MISSING_INTERVAL))
    estimated = gaps.withColumn("status", method).where(F.col("status").isNotNull())
    estimated = (estimated.select(
        "meter_id", F.lit(run_date).alias(PARTITION_COLUMN), "ts",
        F.concat_ws(":", F.lit(ESTIMATE_SOURCE), F.lit(conf.ruleset_version), "meter_id",
                    F.date_format("ts", "yyyy-MM-dd'T'HH:mm:ss'Z'")).alias("ingest_id"),
        F.col("cat_interval_s").alias("interval_s"), *[estimate(c).alias(c) for c in CHANNELS],
        F.lit(ESTIMATE_SOURCE).alias("source"), F.lit(None).cast("timestamp").alias("received_at"), "status",
        cause.alias("rule_id"), F.lit(conf.ruleset_version).alias("ruleset_version")))
    return estimated.select(*[F.col(c.name).cast(c.spark_type()) for c in SILVER_METER_READINGS.columns])


def silver_rows(checked: DataFrame, estimated: DataFrame) -> DataFrame:
    """The kept rows as read, with their status, and the estimated rows."""
    kept = checked.where(F.col("status") != vee.REJECTED).select(
        *[F.col(c.name).cast(c.spark_type()) for c in SILVER_METER_READINGS.columns])
    return kept.unionByName(estimated)


@dataclass(frozen=True)
class VeeCounts:
    """What one date's run read and wrote, for the conservation check."""

    bronze: int
    silver: int
    estimated: int
    quarantined: int

    @property
    def balanced(self) -> bool:
        """bronze rows = (silver rows - estimated rows) + quarantined rows."""
        return self.bronze == (self.silver - self.estimated) + self.quarantined
