"""Gold table schemas: the figures billing, planning and operations read (jobs/stages/aggregate.py).

Every gold table is partitioned by the lake's ``date`` column. For the daily and hourly
tables it is the local day itself; for the period tables it is the **first local day of the
period**: the 1st of the month for ``meter_monthly``, the Monday of the week for
``voltage_quality_weekly``. A run for any date recomputes the period that contains it and
replaces that one partition, so reruns and backfills stay idempotent with the same
partition-replace code as every other table.

Times are UTC instants (``*_at``, ``hour_start``); dates are local calendar dates in the
meter's (or sensor's) time zone. Energy is kWh to 3 decimals (Wh), demand kW to 3 decimals,
voltage to 0.1 V, shares to 4 decimals.
"""

from __future__ import annotations

from schemas.channels import VOLTS
from schemas.lake import PARTITION_COLUMN, Column, LakeTable

KWH_TOTAL = "decimal(14,3)"
KW = "decimal(12,3)"
SHARE = "decimal(5,4)"
NOMINAL_VOLTS = "decimal(7,1)"
SCORE = "decimal(9,2)"

#: Verdicts of voltage_quality_weekly.
COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
INSUFFICIENT_DATA = "insufficient_data"
#: What a voltage_quality_weekly row was computed from: the standard's basis, or the meters' own
#: 15-minute voltages (indicative only: EN 50160 asks for 10-minute means).
BASIS_SENSOR = "sensor_10min"
BASIS_METER_INDICATIVE = "meter_15min_indicative"
#: Levels of voltage_quality_weekly rows.
LEVEL_SENSOR = "sensor"
LEVEL_FEEDER = "feeder"
LEVEL_METER = "meter"

_DATE = Column(PARTITION_COLUMN, "date", nullable=False)

#: One meter's local hour. On the autumn DST day one local hour occurs twice: ``hour_start``
#: (UTC) tells the two apart, ``utc_offset_min`` says which is which.
METER_HOURLY = LakeTable("gold/meter_hourly", (
    Column("meter_id", "string", nullable=False),
    _DATE,
    Column("hour_start", "timestamp", nullable=False),
    Column("local_hour", "int", nullable=False),
    Column("utc_offset_min", "int", nullable=False),
    Column("kwh_import", KWH_TOTAL),
    Column("kwh_export", KWH_TOTAL),
    Column("peak_kw", KW),
    Column("voltage_mean_v", VOLTS),
    Column("intervals", "int", nullable=False),
    Column("intervals_estimated", "int", nullable=False),
))

#: One meter's local day. peak_kw = the largest interval import kWh x 3600 / interval_s;
#: load_factor = mean interval demand / peak; completeness = intervals present / intervals the
#: local day has (92, 96 or 100 at 15 minutes); estimated_share = estimated / present.
METER_DAILY = LakeTable("gold/meter_daily", (
    Column("meter_id", "string", nullable=False),
    _DATE,
    Column("meter_class", "string"),
    Column("tariff", "string"),
    Column("feeder_id", "string"),
    Column("substation_id", "string"),
    Column("region", "string"),
    Column("timezone", "string", nullable=False),
    Column("interval_s", "int"),
    Column("kwh_import", KWH_TOTAL),
    Column("kwh_export", KWH_TOTAL),
    Column("peak_kw", KW),
    Column("peak_at", "timestamp"),
    Column("load_factor", SHARE),
    Column("voltage_min_v", VOLTS),
    Column("voltage_mean_v", VOLTS),
    Column("voltage_max_v", VOLTS),
    Column("intervals", "int", nullable=False),
    Column("intervals_expected", "int"),
    Column("intervals_estimated", "int", nullable=False),
    Column("estimated_share", SHARE),
    Column("completeness", SHARE),
))

#: One meter's local calendar month; ``date`` is the 1st. A month in progress is complete only
#: up to its last processed day: completeness counts against the whole month.
METER_MONTHLY = LakeTable("gold/meter_monthly", (
    Column("meter_id", "string", nullable=False),
    _DATE,
    Column("month_end", "date", nullable=False),
    Column("feeder_id", "string"),
    Column("substation_id", "string"),
    Column("region", "string"),
    Column("kwh_import", KWH_TOTAL),
    Column("kwh_export", KWH_TOTAL),
    Column("peak_kw", KW),
    Column("peak_at", "timestamp"),
    Column("load_factor", SHARE),
    Column("voltage_min_v", VOLTS),
    Column("voltage_max_v", VOLTS),
    Column("days_with_data", "int", nullable=False),
    Column("intervals", "int", nullable=False),
    Column("intervals_expected", "int"),
    Column("intervals_estimated", "int", nullable=False),
    Column("estimated_share", SHARE),
    Column("completeness", SHARE),
))


def area_daily(path: str, area_column: str) -> LakeTable:
    """A grid area's local day: energy of its meters, the coincident peak of their summed net
    demand (import - export) and its time, meters reporting and the area's completeness
    against every catalogue meter active that day (a silent meter counts as 0 intervals)."""
    return LakeTable(path, (
        Column(area_column, "string", nullable=False),
        _DATE,
        Column("kwh_import", KWH_TOTAL),
        Column("kwh_export", KWH_TOTAL),
        Column("coincident_peak_kw", KW),
        Column("coincident_peak_at", "timestamp"),
        Column("meter_count", "int", nullable=False),
        Column("meters_expected", "int", nullable=False),
        Column("intervals", "int", nullable=False),
        Column("intervals_expected", "int"),
        Column("completeness", SHARE),
    ))


FEEDER_DAILY = area_daily("gold/feeder_daily", "feeder_id")
SUBSTATION_DAILY = area_daily("gold/substation_daily", "substation_id")
REGION_DAILY = area_daily("gold/region_daily", "region")

#: Energy per time-of-use band of the meter's tariff (bands and holidays: conf ``aggregates.tou``).
TOU_DAILY = LakeTable("gold/tou_daily", (
    Column("meter_id", "string", nullable=False),
    _DATE,
    Column("tariff", "string"),
    Column("band", "string", nullable=False),
    Column("kwh_import", KWH_TOTAL),
    Column("kwh_export", KWH_TOTAL),
    Column("intervals", "int", nullable=False),
))

#: EN 50160 supply voltage over a Monday-to-Sunday local week; ``date`` is the Monday.
#: Per sensor (basis sensor_10min, the standard's), per feeder (the worst of its sensors) and
#: per meter (basis meter_15min_indicative). within_share is the worst phase's share of
#: 10-minute values within nominal +-10%; outside_limits counts values above +10% or below -15%;
#: data_share = values present / values the week should have. Verdict: insufficient_data under
#: the minimum data share (conf), else compliant when within_share >= 0.95 and
#: outside_limits = 0, else non_compliant.
VOLTAGE_QUALITY_WEEKLY = LakeTable("gold/voltage_quality_weekly", (
    _DATE,
    Column("week_end", "date", nullable=False),
    Column("level", "string", nullable=False),
    Column("object_id", "string", nullable=False),
    Column("feeder_id", "string"),
    Column("basis", "string", nullable=False),
    Column("nominal_voltage_v", NOMINAL_VOLTS),
    Column("phases", "int", nullable=False),
    Column("samples", "int", nullable=False),
    Column("samples_expected", "int"),
    Column("data_share", SHARE),
    Column("within_share", SHARE),
    Column("outside_limits", "int", nullable=False),
    Column("voltage_min_v", VOLTS),
    Column("voltage_max_v", VOLTS),
    Column("verdict", "string", nullable=False),
))

#: Meter-days whose kWh imported deviate most from their like-day baseline (same day kind,
#: working or not, over the previous weeks of gold meter_daily): score = (kWh - median) /
#: max(1.4826 x MAD, floor), top N per feeder by |score| (conf ``aggregates.anomalies``).
ANOMALIES = LakeTable("gold/anomalies", (
    _DATE,
    Column("feeder_id", "string"),
    Column("rank", "int", nullable=False),
    Column("meter_id", "string", nullable=False),
    Column("kwh_import", KWH_TOTAL),
    Column("baseline_median_kwh", KWH_TOTAL),
    Column("baseline_mad_kwh", KWH_TOTAL),
    Column("baseline_days", "int", nullable=False),
    Column("score", SCORE),
    Column("direction", "string", nullable=False),
))

GOLD_TABLES: tuple[LakeTable, ...] = (
    METER_HOURLY, METER_DAILY, METER_MONTHLY, FEEDER_DAILY, SUBSTATION_DAILY, REGION_DAILY, TOU_DAILY,
    VOLTAGE_QUALITY_WEEKLY, ANOMALIES,
)
