"""The aggregates (silver -> gold) on hand-written rows, against figures worked out by hand.

The meters are in Europe/Tirane (CEST = UTC+2 until 2024-10-27 03:00, CET = UTC+1 after; back to
CEST on 2024-03-31 at 02:00). Every expected value is a literal; the comment beside it shows the
arithmetic. Shares are rounded half up to 4 decimals, kW to 3.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.stages import aggregate as agg
from jobs.runtime.config import AnomaliesConf, Settings, TouBandConf, TouConf, VoltageQualityConf
from jobs.stores.lake import LakeTableRef
from schemas import gold
from schemas.lake import SILVER_METER_READINGS
from jobs.transforms import gold as gold_aggregates
from builders import gold as b
from builders.gold import as_utc, utc

D = Decimal
OCT15 = date(2024, 10, 15)  # a Tuesday on CEST: local midnight = 2024-10-14 22:00 UTC, 96 quarter hours
AUTUMN_DST = date(2024, 10, 27)  # 25 hours: 2024-10-26 22:00 UTC .. 2024-10-27 23:00 UTC, 100 quarter hours
SPRING_DST = date(2024, 3, 31)  # 23 hours: 2024-03-30 23:00 UTC .. 2024-03-31 22:00 UTC, 92 quarter hours


def rows_by(frame: DataFrame, *key: str) -> dict:
    return {tuple(row[k] for k in key) if len(key) > 1 else row[key[0]]: row.asDict() for row in frame.collect()}


@pytest.fixture(scope="module")
def catalogue(spark: SparkSession) -> DataFrame:
    return b.meters(spark, [
        b.meter("M1", "F1", "S1", "R1", tariff="residential_day_night"),
        b.meter("M2", "F1", "S1", "R1", tariff="prosumer_net_metering", meter_class="prosumer"),
        b.meter("M3", "F2", "S1", "R1", tariff="commercial_tou", meter_class="commercial"),
        b.meter("M9", "F2", "S1", "R1", active_to=date(2024, 10, 1)),  # removed before: not expected
    ])


@pytest.fixture(scope="module")
def oct15(spark: SparkSession, catalogue: DataFrame) -> DataFrame:
    """M1: five intervals local 00:00-01:00, one estimated; M2 (prosumer): three, with export;
    M3: silent all day."""
    rows = [
        b.interval("M1", OCT15, utc(2024, 10, 14, 22, 0), "0.100", voltage_v="230.0"),
        b.interval("M1", OCT15, utc(2024, 10, 14, 22, 15), "0.200", voltage_v="232.0"),
        b.interval("M1", OCT15, utc(2024, 10, 14, 22, 30), "0.300", voltage_v="200.0", status="ESTIMATED_LINEAR"),
        b.interval("M1", OCT15, utc(2024, 10, 14, 22, 45), "0.400", voltage_v="228.0"),
        b.interval("M1", OCT15, utc(2024, 10, 14, 23, 0), "0.500", voltage_v="240.0", status="SUSPECT"),
        b.interval("M2", OCT15, utc(2024, 10, 14, 23, 0), "0.250", "0.000", voltage_v="231.0"),
        b.interval("M2", OCT15, utc(2024, 10, 15, 10, 0), "0.000", "0.300", voltage_v="235.0"),
        b.interval("M2", OCT15, utc(2024, 10, 15, 10, 15), "0.050", "0.200", voltage_v="236.0"),
    ]
    return gold_aggregates.enrich_intervals(b.silver(spark, rows), catalogue, b.TIRANE).cache()


def full_day(spark: SparkSession, catalogue: DataFrame, day: date, first, count: int) -> DataFrame:
    rows = b.quarter_hours("M1", day, first, count, "0.250")
    return gold_aggregates.enrich_intervals(b.silver(spark, rows), catalogue, b.TIRANE)


# --- meter_daily --------------------------------------------------------------------------------

def test_meter_daily_with_estimated_intervals_and_a_prosumer(oct15: DataFrame) -> None:
    daily = rows_by(gold_aggregates.meter_daily(oct15), "meter_id")
    assert set(daily) == {"M1", "M2"}
    m1 = daily["M1"]
    assert m1["kwh_import"] == D("1.500")  # 0.1 + 0.2 + 0.3 + 0.4 + 0.5
    assert m1["kwh_export"] == D("0.000")
    assert m1["peak_kw"] == D("2.000")  # 0.5 kWh x 3600 / 900
    assert as_utc(m1["peak_at"]) == utc(2024, 10, 14, 23, 0)
    assert m1["load_factor"] == D("0.6000")  # mean of 0.4, 0.8, 1.2, 1.6, 2.0 kW = 1.2; 1.2 / 2.0
    assert m1["voltage_min_v"] == D("228.0")  # the estimated 200.0 V is no measurement
    assert m1["voltage_mean_v"] == D("232.5")  # (230 + 232 + 228 + 240) / 4
    assert m1["voltage_max_v"] == D("240.0")  # SUSPECT intervals are kept
    assert (m1["intervals"], m1["intervals_expected"], m1["intervals_estimated"]) == (5, 96, 1)
    assert m1["estimated_share"] == D("0.2000")  # 1 / 5
    assert m1["completeness"] == D("0.0521")  # 5 / 96 = 0.05208
    assert (m1["feeder_id"], m1["tariff"], m1["timezone"], m1["interval_s"]) == (
        "F1", "residential_day_night", "Europe/Tirane", 900)
    m2 = daily["M2"]
    assert m2["kwh_import"] == D("0.300")  # 0.25 + 0 + 0.05
    assert m2["kwh_export"] == D("0.500")  # 0 + 0.3 + 0.2
    assert m2["peak_kw"] == D("1.000")  # 0.25 x 4
    assert as_utc(m2["peak_at"]) == utc(2024, 10, 14, 23, 0)
    assert m2["load_factor"] == D("0.4000")  # mean of 1.0, 0.0, 0.2 = 0.4; 0.4 / 1.0
    assert (m2["voltage_min_v"], m2["voltage_mean_v"], m2["voltage_max_v"]) == (D("231.0"), D("234.0"), D("236.0"))
    assert m2["estimated_share"] == D("0.0000")
    assert m2["completeness"] == D("0.0313")  # 3 / 96 = 0.03125, half up


@pytest.mark.parametrize(("day", "first", "quarter_hours", "kwh", "hours"), [
    pytest.param(AUTUMN_DST, utc(2024, 10, 26, 22), 100, D("25.000"), 25, id="autumn-25h-100qh"),
    pytest.param(SPRING_DST, utc(2024, 3, 30, 23), 92, D("23.000"), 23, id="spring-23h-92qh"),
    pytest.param(OCT15, utc(2024, 10, 14, 22), 96, D("24.000"), 24, id="ordinary-24h-96qh"),
])
def test_a_full_dst_day_is_complete(spark: SparkSession, catalogue: DataFrame, day: date, first, quarter_hours: int,
                                    kwh: Decimal, hours: int) -> None:
    intervals = full_day(spark, catalogue, day, first, quarter_hours)
    [m1] = gold_aggregates.meter_daily(intervals).collect()
    assert m1["kwh_import"] == kwh  # quarter_hours x 0.250
    assert m1["intervals"] == m1["intervals_expected"] == quarter_hours
    assert m1["completeness"] == D("1.0000")
    assert m1["load_factor"] == D("1.0000")  # flat 1 kW all day
    hourly = gold_aggregates.meter_hourly(intervals).collect()
    assert len(hourly) == hours
    assert {row["kwh_import"] for row in hourly} == {D("1.000")}
    assert {row["intervals"] for row in hourly} == {4}


# --- meter_hourly -------------------------------------------------------------------------------

def test_meter_hourly_on_an_ordinary_day(oct15: DataFrame) -> None:
    hourly = rows_by(gold_aggregates.meter_hourly(oct15).where(F.col("meter_id") == "M1"), "local_hour")
    assert set(hourly) == {0, 1}
    zero, one = hourly[0], hourly[1]
    assert as_utc(zero["hour_start"]) == utc(2024, 10, 14, 22) and zero["utc_offset_min"] == 120
    assert zero["kwh_import"] == D("1.000")  # 0.1 + 0.2 + 0.3 + 0.4
    assert zero["peak_kw"] == D("1.600")  # 0.4 x 4
    assert zero["voltage_mean_v"] == D("230.0")  # (230 + 232 + 228) / 3, estimated left out
    assert (zero["intervals"], zero["intervals_estimated"]) == (4, 1)
    assert one["kwh_import"] == D("0.500") and (one["intervals"], one["intervals_estimated"]) == (1, 0)


def test_meter_hourly_keeps_the_repeated_autumn_hour_apart(spark: SparkSession, catalogue: DataFrame) -> None:
    # Local 02:00 and 02:15 occur twice: at 00:00/00:15 UTC (CEST) and at 01:00/01:15 UTC (CET).
    rows = [b.interval("M1", AUTUMN_DST, utc(2024, 10, 27, 0, 0), "0.100"),
            b.interval("M1", AUTUMN_DST, utc(2024, 10, 27, 0, 15), "0.200"),
            b.interval("M1", AUTUMN_DST, utc(2024, 10, 27, 1, 0), "0.300"),
            b.interval("M1", AUTUMN_DST, utc(2024, 10, 27, 1, 15), "0.400"),
            b.interval("M1", AUTUMN_DST, utc(2024, 10, 27, 2, 0), "0.500")]
    intervals = gold_aggregates.enrich_intervals(b.silver(spark, rows), catalogue, b.TIRANE)
    hourly = sorted(gold_aggregates.meter_hourly(intervals).collect(), key=lambda row: row["hour_start"])
    assert [(as_utc(r["hour_start"]), r["local_hour"], r["utc_offset_min"], r["kwh_import"]) for r in hourly] == [
        (utc(2024, 10, 27, 0), 2, 120, D("0.300")),  # 0.1 + 0.2
        (utc(2024, 10, 27, 1), 2, 60, D("0.700")),  # 0.3 + 0.4
        (utc(2024, 10, 27, 2), 3, 60, D("0.500")),
    ]
    [daily] = gold_aggregates.meter_daily(intervals).collect()
    assert (daily["intervals"], daily["intervals_expected"], daily["completeness"]) == (5, 100, D("0.0500"))


# --- meter_monthly ------------------------------------------------------------------------------

def test_meter_monthly_from_daily_rows(spark: SparkSession) -> None:
    daily = b.meter_daily(spark, [
        b.meter_day("M1", OCT15, "1.500", kwh_export="0.000", peak_kw="2.000", peak_at=utc(2024, 10, 14, 23),
                    voltage_min_v="228.0", voltage_max_v="240.0", intervals=5, intervals_estimated=1),
        b.meter_day("M1", AUTUMN_DST, "1.500", kwh_export="0.000", peak_kw="2.000", peak_at=utc(2024, 10, 27, 2),
                    voltage_min_v="225.0", voltage_max_v="245.0", intervals=5),
        b.meter_day("M1", SPRING_DST, "23.000", kwh_export="0.000", peak_kw="1.000", peak_at=utc(2024, 3, 30, 23),
                    intervals=92),
    ])
    monthly = rows_by(gold_aggregates.meter_monthly(daily), "date")
    october = monthly[date(2024, 10, 1)]
    assert october["month_end"] == date(2024, 10, 31)
    assert (october["kwh_import"], october["kwh_export"]) == (D("3.000"), D("0.000"))
    assert october["peak_kw"] == D("2.000")
    assert as_utc(october["peak_at"]) == utc(2024, 10, 14, 23)  # a tie: the earlier one
    assert october["load_factor"] == D("0.6000")  # 3 kWh over 10 x 0.25 h = 1.2 kW mean; / 2.0
    assert (october["voltage_min_v"], october["voltage_max_v"]) == (D("225.0"), D("245.0"))
    assert (october["days_with_data"], october["intervals"], october["intervals_estimated"]) == (2, 10, 1)
    assert october["intervals_expected"] == 2980  # 31 x 96 + 4 (the 25-hour day)
    assert october["completeness"] == D("0.0034")  # 10 / 2980 = 0.003356
    assert october["estimated_share"] == D("0.1000")
    march = monthly[date(2024, 3, 1)]
    assert march["intervals_expected"] == 2972  # 31 x 96 - 4 (the 23-hour day)
    assert march["completeness"] == D("0.0310")  # 92 / 2972 = 0.030955
    assert march["load_factor"] == D("1.0000")


# --- areas --------------------------------------------------------------------------------------

def test_feeder_substation_region_daily(spark: SparkSession, catalogue: DataFrame, oct15: DataFrame) -> None:
    daily = gold_aggregates.meter_daily(oct15)
    roster = gold_aggregates.meter_roster(catalogue, OCT15, b.TIRANE, 900)
    feeders = rows_by(gold_aggregates.feeder_daily(daily, oct15, roster), "feeder_id")
    f1 = feeders["F1"]
    assert (f1["kwh_import"], f1["kwh_export"]) == (D("1.800"), D("0.500"))  # 1.5 + 0.3; 0 + 0.5
    # Net kW per interval start: 23:00 UTC M1 2.0 + M2 1.0 = 3.0; M2 alone at 10:00 -1.2, 10:15 -0.6.
    assert f1["coincident_peak_kw"] == D("3.000")
    assert as_utc(f1["coincident_peak_at"]) == utc(2024, 10, 14, 23)
    assert (f1["meter_count"], f1["meters_expected"], f1["intervals"], f1["intervals_expected"]) == (2, 2, 8, 192)
    assert f1["completeness"] == D("0.0417")  # 8 / 192 = 0.041667
    f2 = feeders["F2"]  # only the silent M3 (M9 left the grid before the day)
    assert (f2["meter_count"], f2["meters_expected"], f2["intervals"], f2["intervals_expected"]) == (0, 1, 0, 96)
    assert (f2["kwh_import"], f2["coincident_peak_kw"], f2["completeness"]) == (None, None, D("0.0000"))
    for level in (gold_aggregates.substation_daily(daily, oct15, roster), gold_aggregates.region_daily(daily, oct15, roster)):
        [area] = level.collect()
        assert (area["kwh_import"], area["kwh_export"], area["coincident_peak_kw"]) == (D("1.800"), D("0.500"),
                                                                                        D("3.000"))
        assert (area["meter_count"], area["meters_expected"], area["intervals"]) == (2, 3, 8)
        assert area["completeness"] == D("0.0278")  # 8 / 288 = 0.027778


# --- time of use --------------------------------------------------------------------------------

TOU = TouConf(
    holidays=[date(2024, 11, 28)],
    tariffs={"commercial_tou": [TouBandConf(band="peak", days="working", start="08:00", end="20:00"),
                                TouBandConf(band="off_peak")],
             "residential_day_night": [TouBandConf(band="night", start="22:00", end="07:00"),
                                       TouBandConf(band="day", start="07:00", end="22:00")],
             "gappy": [TouBandConf(band="morning", start="00:00", end="08:00")]},
)


def test_tou_daily_bands_working_day_holiday_and_gaps(spark: SparkSession, catalogue: DataFrame) -> None:
    extra = b.meters(spark, [b.meter("M3", "F2", "S1", "R1", tariff="commercial_tou"),
                             b.meter("M5", "F2", "S1", "R1", tariff="gappy"),
                             b.meter("M6", "F2", "S1", "R1", tariff="residential_day_night"),
                             b.meter("M7", "F2", "S1", "R1", tariff="residential_flat")])
    working, holiday = date(2024, 11, 27), date(2024, 11, 28)  # Wednesday; Thursday, Independence Day (CET)
    rows = []
    for day in (working, holiday):  # local 07:45, 08:00, 19:45, 20:00 = UTC one hour earlier
        rows += [b.interval("M3", day, utc(2024, 11, day.day, 6, 45), "0.100"),
                 b.interval("M3", day, utc(2024, 11, day.day, 7, 0), "0.200"),
                 b.interval("M3", day, utc(2024, 11, day.day, 18, 45), "0.300"),
                 b.interval("M3", day, utc(2024, 11, day.day, 19, 0), "0.400")]
    rows += [b.interval("M5", working, utc(2024, 11, 27, 6, 45), "1.000"),  # 07:45 morning
             b.interval("M5", working, utc(2024, 11, 27, 7, 0), "2.000"),  # 08:00 in no band
             b.interval("M6", working, utc(2024, 11, 26, 23, 0), "0.100", "0.050"),  # 00:00 night
             b.interval("M6", working, utc(2024, 11, 27, 21, 45), "0.200"),  # 22:45 night
             b.interval("M6", working, utc(2024, 11, 27, 20, 45), "0.400"),  # 21:45 day
             b.interval("M7", working, utc(2024, 11, 27, 12, 0), "0.700")]
    intervals = gold_aggregates.enrich_intervals(b.silver(spark, rows), extra, b.TIRANE)
    tou = {key: (row["kwh_import"], row["intervals"])
           for key, row in rows_by(gold_aggregates.tou_daily(intervals, TOU), "meter_id", "date", "band").items()}
    assert tou == {
        ("M3", working, "peak"): (D("0.500"), 2),  # 08:00 0.2 + 19:45 0.3
        ("M3", working, "off_peak"): (D("0.500"), 2),  # 07:45 0.1 + 20:00 0.4
        ("M3", holiday, "off_peak"): (D("1.000"), 4),  # a holiday has no peak
        ("M5", working, "morning"): (D("1.000"), 1),
        ("M5", working, "unbanded"): (D("2.000"), 1),
        ("M6", working, "night"): (D("0.300"), 2),  # wraps past midnight: 0.1 + 0.2
        ("M6", working, "day"): (D("0.400"), 1),
        ("M7", working, "flat"): (D("0.700"), 1),  # a tariff without bands
    }
    exported = gold_aggregates.tou_daily(intervals, TOU).where("meter_id = 'M6' AND band = 'night'").first()
    assert exported["kwh_export"] == D("0.050") and exported["tariff"] == "residential_day_night"


# --- EN 50160 -----------------------------------------------------------------------------------

MONDAY = date(2024, 10, 21)  # the week of the autumn DST Sunday: 169 hours = 1014 ten-minute values per phase


@pytest.fixture(scope="module")
def week_samples(spark: SparkSession, catalogue: DataFrame) -> tuple[DataFrame, DataFrame]:
    tue, sun = date(2024, 10, 22), AUTUMN_DST
    readings = b.sensor_readings(spark, [
        # PQ-A: L1 230.0, 240.0; L2 250.0 (within: 20 <= 23), 254.0 (above 253 = +10%); L3 not measured.
        b.sensor_reading("PQ-A", tue, utc(2024, 10, 22, 8, 0), "230.0", "250.0", received_at=utc(2024, 10, 22, 9)),
        # an older received version of the same reading: the latest one counts
        b.sensor_reading("PQ-A", tue, utc(2024, 10, 22, 8, 0), "100.0", "100.0", received_at=utc(2024, 10, 22, 8),
                         ingest_id="0"),
        b.sensor_reading("PQ-A", sun, utc(2024, 10, 27, 1, 10), "240.0", "254.0"),
        b.sensor_reading("PQ-B", tue, utc(2024, 10, 22, 8, 0), "229.0", "231.0", "230.0"),
        # PQ-C: a sag 200.0 (outside +-10%, inside -15%) and 195.0 (below 195.5 = -15%)
        b.sensor_reading("PQ-C", tue, utc(2024, 10, 22, 8, 0), "200.0"),
        b.sensor_reading("PQ-C", tue, utc(2024, 10, 22, 8, 10), "195.0"),
    ])
    sensors = b.sensors(spark, [b.sensor("PQ-A", "F1"), b.sensor("PQ-B", "F1"), b.sensor("PQ-C", "F2")])
    meter_rows = [b.interval("M1", tue, utc(2024, 10, 22, 8, 0), "0.100", voltage_v="230.0"),
                  b.interval("M1", tue, utc(2024, 10, 22, 8, 15), "0.100", voltage_v="100.0",
                             status="ESTIMATED_LIKE_DAY"),
                  b.interval("M1", tue, utc(2024, 10, 22, 8, 30), "0.100", voltage_v="260.0", status="SUSPECT")]
    meter_intervals = gold_aggregates.enrich_intervals(b.silver(spark, meter_rows), catalogue, b.TIRANE)
    return (gold_aggregates.sensor_voltage_samples(readings, sensors, b.TIRANE), gold_aggregates.meter_voltage_samples(meter_intervals))


def test_voltage_quality_weekly_verdicts(week_samples: tuple[DataFrame, DataFrame]) -> None:
    conf = VoltageQualityConf(min_data_share=0.0005)  # low, so a handful of values gets a verdict
    rows = rows_by(gold_aggregates.voltage_quality_weekly(*week_samples, MONDAY, conf), "level", "object_id")
    assert set(rows) == {("sensor", "PQ-A"), ("sensor", "PQ-B"), ("sensor", "PQ-C"), ("feeder", "F1"),
                         ("feeder", "F2"), ("meter", "M1")}
    assert {r["date"] for r in rows.values()} == {MONDAY}
    assert {r["week_end"] for r in rows.values()} == {date(2024, 10, 27)}
    figures = {key: (r["phases"], r["samples"], r["samples_expected"], r["data_share"], r["within_share"],
                     r["outside_limits"], r["voltage_min_v"], r["voltage_max_v"], r["verdict"], r["basis"])
               for key, r in rows.items()}
    assert figures == {
        # 2 phases x 1014 = 2028 expected; 4 / 2028 = 0.00197; L2 within 1 of 2
        ("sensor", "PQ-A"): (2, 4, 2028, D("0.0020"), D("0.5000"), 1, D("230.0"), D("254.0"), "non_compliant",
                             "sensor_10min"),
        # 3 / 3042 = 0.000986
        ("sensor", "PQ-B"): (3, 3, 3042, D("0.0010"), D("1.0000"), 0, D("229.0"), D("231.0"), "compliant",
                             "sensor_10min"),
        ("sensor", "PQ-C"): (1, 2, 1014, D("0.0020"), D("0.0000"), 1, D("195.0"), D("200.0"), "non_compliant",
                             "sensor_10min"),
        # F1 = PQ-A + PQ-B: 7 / 5070 = 0.00138; worst within share 0.5; a non-compliant sensor
        ("feeder", "F1"): (3, 7, 5070, D("0.0014"), D("0.5000"), 1, D("229.0"), D("254.0"), "non_compliant",
                           "sensor_10min"),
        ("feeder", "F2"): (1, 2, 1014, D("0.0020"), D("0.0000"), 1, D("195.0"), D("200.0"), "non_compliant",
                           "sensor_10min"),
        # 169 h x 4 = 676 quarter hours; the estimated 100.0 V is left out; 260.0 is above 253
        ("meter", "M1"): (1, 2, 676, D("0.0030"), D("0.5000"), 1, D("230.0"), D("260.0"), "non_compliant",
                          "meter_15min_indicative"),
    }
    assert rows[("sensor", "PQ-A")]["feeder_id"] == "F1" and rows[("sensor", "PQ-A")]["nominal_voltage_v"] == D("230.0")


def test_voltage_quality_weekly_without_enough_data(week_samples: tuple[DataFrame, DataFrame]) -> None:
    rows = gold_aggregates.voltage_quality_weekly(*week_samples, MONDAY, VoltageQualityConf(min_data_share=0.9)).collect()
    assert {row["verdict"] for row in rows} == {"insufficient_data"}


# --- anomalies ----------------------------------------------------------------------------------

def test_anomalies_against_the_like_day_baseline(spark: SparkSession) -> None:
    day = date(2024, 10, 29)  # a Tuesday; the baseline window is 2024-10-01 .. 2024-10-28
    history = b.meter_daily(spark, [
        # A: working-day baseline 10, 11, 12, 13, 10 -> median 11, |deviations| 1 0 1 2 1 -> MAD 1
        b.meter_day("A", date(2024, 10, 7), "10.000"), b.meter_day("A", date(2024, 10, 8), "11.000"),
        b.meter_day("A", date(2024, 10, 9), "12.000"), b.meter_day("A", date(2024, 10, 14), "13.000"),
        b.meter_day("A", date(2024, 10, 15), "10.000"),
        b.meter_day("A", date(2024, 10, 12), "50.000"),  # a Saturday: another kind of day
        b.meter_day("A", date(2024, 10, 16), "100.000", completeness="0.5000"),  # too incomplete
        b.meter_day("A", date(2024, 9, 30), "90.000"),  # before the window
        b.meter_day("A", day, "20.000"),
        # B: 5, 5, 5 -> median 5, MAD 0 -> the 0.5 kWh floor
        *[b.meter_day("B", date(2024, 10, n), "5.000") for n in (1, 2, 3)], b.meter_day("B", day, "3.000"),
        # C (F2): 8, 8, 9 -> median 8, MAD 0; (8.5 - 8) / 0.5 = 1.0: under the minimum score
        *[b.meter_day("C", date(2024, 10, n), v, feeder_id="F2") for n, v in ((1, "8.000"), (2, "8.000"),
                                                                              (3, "9.000"))],
        b.meter_day("C", day, "8.500", feeder_id="F2"),
        # D (F2): two baseline days only; E (F2): its own day too incomplete
        *[b.meter_day("D", date(2024, 10, n), "1.000", feeder_id="F2") for n in (1, 2)],
        b.meter_day("D", day, "100.000", feeder_id="F2"),
        *[b.meter_day("E", date(2024, 10, n), "1.000", feeder_id="F2") for n in (1, 2, 3)],
        b.meter_day("E", day, "100.000", completeness="0.5000", feeder_id="F2"),
    ])
    conf = AnomaliesConf(baseline_weeks=4, min_baseline_days=3, min_completeness=0.9, scale_floor_kwh=0.5,
                         min_score=3.0, top_n=2)
    found = [(r["date"], r["feeder_id"], r["rank"], r["meter_id"], r["kwh_import"], r["baseline_median_kwh"],
              r["baseline_mad_kwh"], r["baseline_days"], r["score"], r["direction"])
             for r in gold_aggregates.anomalies(history, day, conf, holidays=[]).orderBy("feeder_id", "rank").collect()]
    assert found == [
        # (20 - 11) / (1.4826 x 1) = 6.0704
        (day, "F1", 1, "A", D("20.000"), D("11.000"), D("1.000"), 5, D("6.07"), "high"),
        # (3 - 5) / max(0, 0.5) = -4
        (day, "F1", 2, "B", D("3.000"), D("5.000"), D("0.000"), 3, D("-4.00"), "low"),
    ]
    top_one = gold_aggregates.anomalies(history, day, conf.model_copy(update={"top_n": 1}), holidays=[]).collect()
    assert [r["meter_id"] for r in top_one] == ["A"]


# --- the job: partitions and reruns -------------------------------------------------------------

def test_run_aggregates_replaces_its_partitions_on_rerun(spark: SparkSession, settings: Settings,
                                                         catalogue: DataFrame, tmp_path) -> None:
    local = settings.model_copy(deep=True)
    local.lake.root = str(tmp_path / "lake")
    local.lake.format = "parquet"  # the partition replace itself is tested with every format in the extract's tests
    rows = [b.interval("M1", OCT15, utc(2024, 10, 14, 22, 0), "0.100", voltage_v="230.0"),
            b.interval("M2", OCT15, utc(2024, 10, 15, 10, 0), "0.000", "0.300", voltage_v="235.0")]
    LakeTableRef(spark, local.lake_root, SILVER_METER_READINGS.path, local.lake.format).replace_partition(
        b.silver(spark, rows), OCT15)
    sensors = b.sensors(spark, [b.sensor("PQ-A", "F1")])
    for _ in range(2):
        records = agg.run_aggregates(spark, local, OCT15, catalogue, sensors)
    written = {r.table: r.rows_written for r in records}
    assert written == {"gold/meter_hourly": 2, "gold/meter_daily": 2, "gold/tou_daily": 2, "gold/feeder_daily": 2,
                       "gold/substation_daily": 1, "gold/region_daily": 1, "gold/meter_monthly": 2,
                       "gold/voltage_quality_weekly": 2, "gold/anomalies": 0}
    assert {r.status for r in records} == {"ok"} and {r.date for r in records} == {OCT15}

    def partitions(table: gold.LakeTable) -> list[date]:
        ref = LakeTableRef(spark, local.lake_root, table.path, local.lake.format)
        return sorted(r["date"] for r in ref.read(table.spark_schema()).select("date").distinct().collect())

    assert partitions(gold.METER_DAILY) == [OCT15]
    assert partitions(gold.METER_MONTHLY) == [date(2024, 10, 1)]
    assert partitions(gold.VOLTAGE_QUALITY_WEEKLY) == [date(2024, 10, 14)]  # the Monday
    daily = LakeTableRef(spark, local.lake_root, gold.METER_DAILY.path, local.lake.format).read()
    assert daily.count() == 2  # twice run, once stored
