"""The real SGSC households through extract -> VEE -> aggregates: daily kWh and completeness.

SGSC meters read every 30 minutes on a fixed +10:00 clock, where the synthetic grid reads
every 15 minutes in Europe/Tirane: every local day has 48 intervals, spring-forward Sunday
included. The whole file is loaded into a scratch keyspace; a handful of local dates with
real gaps are run in order, and gold ``meter_daily`` is compared with two figures computed
apart from the jobs:

- pandas sums of the silver rows of each household-day by status (VALID, SUSPECT,
  ESTIMATED_*): the gold day is exactly its kept intervals;
- pandas on the raw file: the readings of each local day (start times are already +10:00
  local), their gaps, and what the VEE rules (docs/decisions/vee.md) fill
  in: linear within ``max_linear_gap_s`` with both sides read, flat from the one side read at
  either end of the day, nothing for a longer gap inside the day (the dates are more than
  ``like_day_lookback_days`` apart, so no like-day history exists) and nothing for a silent
  day. Completeness (schemas/gold.py) = intervals present in silver, read or estimated, / 48.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.stages import aggregate as aggregate_readings
from jobs.stages import extract as extract_readings
from jobs.ingest import load_real_data
from jobs.stages import validate as validate_readings
from jobs.runtime.config import Settings, VeeConf
from jobs.stores.lake import LakeTableRef
from schemas import gold, vee
from schemas.lake import PARTITION_COLUMN, SILVER_METER_READINGS, SILVER_QUARANTINE, LakeTable
from schemas import feeds

SGSC_FILE = load_real_data.DEFAULT_DATA_DIR / "sgsc_households_halfhourly.csv.gz"
INTERVAL = timedelta(minutes=30)
SLOTS = 48
UTC_OFFSET = timedelta(hours=10)
#: The dates run, in order, and what the raw file holds on them (found with pandas on the file).
DATES = {
    date(2012, 10, 7): "Sunday, spring forward in Sydney; sgsc-10017994: 32 of 48, missing 3 at the start, 2, 4 "
                       "and 4 inside, 3 at the end; sgsc-10017936: 4 missing inside",
    date(2013, 1, 4): "Friday; sgsc-10006704: 13 of 48, missing 12, 4 and 8 inside and 11 at the end",
    date(2013, 12, 19): "Thursday; sgsc-10017554 and sgsc-10017562 active but silent all day",
}
KWH = Decimal("0.001")

#: Loading the whole file (293,874 readings) and running three dates through every stage takes
#: about 4 minutes on a quiet 2-core machine and past the suite's 900 s when others share it.
pytestmark = pytest.mark.timeout(1800)


def raw_readings() -> pd.DataFrame:
    """The file's readings of DATES: meter, local day, slot of the day (0..47), UTC start, kWh."""
    raw = pd.read_csv(SGSC_FILE)
    start = pd.to_datetime(raw["reading_datetime"], format="%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame({"meter_id": "sgsc-" + raw["customer_id"].astype(str), "day": start.dt.date,
                          "slot": (start - start.dt.normalize()) // INTERVAL, "ts": start - UTC_OFFSET,
                          "kwh": raw["general_supply_kwh"].map(lambda x: Decimal(str(x)))})
    return frame[frame["day"].isin(list(DATES))]


@dataclass(frozen=True)
class Estimate:
    status: str
    kwh: Decimal


def estimates_of_day(read: dict[int, Decimal], conf: VeeConf) -> dict[int, Estimate]:
    """What the VEE rules fill in for one household-day with readings ``read`` (slot -> kWh)
    and no like-day history: linear between two reads up to ``max_linear_gap_s``, flat from
    the one read side at either end of the day, nothing else."""
    out: dict[int, Estimate] = {}
    if not read:
        return out
    seconds = INTERVAL.total_seconds()
    for slot in range(SLOTS):
        if slot in read:
            continue
        before = max((s for s in read if s < slot), default=None)
        after = min((s for s in read if s > slot), default=None)
        if before is not None and after is not None:
            if (after - before - 1) * seconds <= conf.max_linear_gap_s:
                value = read[before] + (read[after] - read[before]) * (slot - before) / (after - before)
                out[slot] = Estimate(vee.ESTIMATED_LINEAR, value.quantize(KWH, ROUND_HALF_UP))
        else:
            gap = SLOTS - before - 1 if before is not None else after
            if gap * seconds <= conf.max_estimation_gap_s:
                out[slot] = Estimate(vee.ESTIMATED_FLAT, read[before if before is not None else after])
    return out


@dataclass(frozen=True)
class ExpectedDay:
    read: int
    estimated: int
    kwh: Decimal
    completeness: Decimal


def expected_days(raw: pd.DataFrame, active: dict[str, tuple[date, date]], conf: VeeConf) -> dict[tuple, ExpectedDay]:
    """Per (meter, day) with any interval in silver: readings, estimates, kWh and completeness."""
    expected = {}
    for day in DATES:
        for meter_id, (first, last) in active.items():
            if not first <= day <= last:
                continue
            rows = raw[(raw["meter_id"] == meter_id) & (raw["day"] == day)]
            read = dict(zip(rows["slot"], rows["kwh"], strict=True))
            estimates = estimates_of_day(read, conf)
            if read or estimates:
                total = sum(read.values(), Decimal(0)) + sum((e.kwh for e in estimates.values()), Decimal(0))
                share = Decimal(len(read) + len(estimates)) / SLOTS
                expected[(meter_id, day)] = ExpectedDay(len(read), len(estimates), total,
                                                        share.quantize(Decimal("0.0001"), ROUND_HALF_UP))
    return expected


def lake_rows(spark: SparkSession, settings: Settings, table: LakeTable) -> pd.DataFrame:
    ref = LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format)
    return (ref.read(table.spark_schema()).where(F.col(PARTITION_COLUMN).isin(list(DATES)))
            .toPandas())


@dataclass(frozen=True)
class Lake:
    settings: Settings
    silver: pd.DataFrame
    quarantine: pd.DataFrame
    meter_daily: pd.DataFrame


@pytest.fixture(scope="module")
def sgsc_lake(fresh_keyspace: Callable[[str], Settings], spark: SparkSession,
              tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The SGSC file loaded into Cassandra, and DATES extracted, validated and aggregated in order."""
    settings = fresh_keyspace("grid_sgsc_quality_test")
    settings.lake.root = str(tmp_path_factory.mktemp("sgsc-lake"))
    settings.lake.target_file_mb = 64.0
    load_real_data.main(settings, "sgsc")
    for day in sorted(DATES):
        extract_readings.extract_feed(spark, settings, feeds.METER_FEED, day)
        validate_readings.main(settings, day, spark)
        aggregate_readings.main(settings, day, spark)
    return Lake(settings, lake_rows(spark, settings, SILVER_METER_READINGS),
                lake_rows(spark, settings, SILVER_QUARANTINE), lake_rows(spark, settings, gold.METER_DAILY))


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return raw_readings()


@pytest.fixture(scope="module")
def expected(raw: pd.DataFrame, sgsc_lake: Lake) -> dict[tuple, ExpectedDay]:
    """From the raw file: every meter is active from its first to its last day with a reading."""
    whole = pd.read_csv(SGSC_FILE, usecols=["customer_id", "reading_datetime"])
    days = pd.to_datetime(whole["reading_datetime"], format="%Y-%m-%d %H:%M:%S").dt.date
    span = days.groupby("sgsc-" + whole["customer_id"].astype(str)).agg(["min", "max"])
    active = {meter_id: (row["min"], row["max"]) for meter_id, row in span.iterrows()}
    return expected_days(raw, active, sgsc_lake.settings.vee)


def test_the_dates_have_no_like_day_history_and_the_gaps_described(raw: pd.DataFrame, sgsc_lake: Lake) -> None:
    """Guards the premises of the expected figures below."""
    conf = sgsc_lake.settings.vee
    assert all(abs((a - b).days) > conf.like_day_lookback_days for a, b in combinations(DATES, 2))
    counts = raw.groupby(["meter_id", "day"]).size()
    assert counts[("sgsc-10017994", date(2012, 10, 7))] == 32
    assert counts[("sgsc-10006704", date(2013, 1, 4))] == 13
    assert ("sgsc-10017554", date(2013, 12, 19)) not in counts


def test_every_reading_is_kept_as_read_at_its_instant(raw: pd.DataFrame, sgsc_lake: Lake) -> None:
    """No SGSC reading breaks a rejecting rule (kWh 0..5.9, on the half-hour grid, no duplicates),
    so silver holds every raw reading of the dates, at start - 10 h UTC, with its kWh."""
    assert sgsc_lake.quarantine.empty
    read = sgsc_lake.silver[~sgsc_lake.silver["status"].isin(vee.ESTIMATED)]
    got = {(r.meter_id, r.date, r.ts.to_pydatetime(), r.kwh_import) for r in read.itertuples()}
    assert got == {(r.meter_id, r.day, r.ts.to_pydatetime(), r.kwh) for r in raw.itertuples()}


def test_estimates_are_the_rules_applied_to_the_real_gaps(raw: pd.DataFrame, sgsc_lake: Lake) -> None:
    """Each estimated interval, its method and value, from the raw file's gaps alone."""
    conf = sgsc_lake.settings.vee
    expected = {}
    for (meter_id, day), rows in raw.groupby(["meter_id", "day"]):
        midnight = datetime.combine(day, datetime.min.time()) - UTC_OFFSET
        for slot, estimate in estimates_of_day(dict(zip(rows["slot"], rows["kwh"], strict=True)), conf).items():
            expected[(meter_id, midnight + slot * INTERVAL)] = (estimate.status, estimate.kwh)
    silver = sgsc_lake.silver
    estimated = silver[silver["status"].isin(vee.ESTIMATED)]
    got = {(r.meter_id, r.ts.to_pydatetime()): (r.status, r.kwh_import) for r in estimated.itertuples()}
    assert got == expected
    assert {status for status, _ in expected.values()} == {vee.ESTIMATED_LINEAR, vee.ESTIMATED_FLAT}


def test_daily_kwh_is_the_sum_of_the_days_kept_intervals(sgsc_lake: Lake) -> None:
    """Gold kWh of a household-day = pandas sum of its silver VALID and ESTIMATED_* rows, plus
    its SUSPECT ones (measured and kept: schemas/gold.py counts every kept interval)."""
    by_status: dict[tuple, dict[str, Decimal]] = {}
    for row in sgsc_lake.silver.itertuples():
        sums = by_status.setdefault((row.meter_id, row.date), {})
        sums[row.status] = sums.get(row.status, Decimal(0)) + row.kwh_import
    valid_and_estimated = {key: sum((sums.get(s, Decimal(0)) for s in (vee.VALID, *vee.ESTIMATED)), Decimal(0))
                           for key, sums in by_status.items()}
    suspect = {key: sums.get(vee.SUSPECT, Decimal(0)) for key, sums in by_status.items()}
    daily = {(r.meter_id, r.date): r.kwh_import for r in sgsc_lake.meter_daily.itertuples()}
    assert daily == {key: valid_and_estimated[key] + suspect[key] for key in by_status}
    assert set(sgsc_lake.silver["status"]) <= {vee.VALID, vee.SUSPECT, *vee.ESTIMATED}


def test_daily_figures_follow_the_raw_file(expected: dict[tuple, ExpectedDay], sgsc_lake: Lake) -> None:
    """kWh, intervals read and estimated, and completeness per household-day, from the raw file."""
    got = {(r.meter_id, r.date): ExpectedDay(r.intervals - r.intervals_estimated, r.intervals_estimated,
                                             r.kwh_import, r.completeness)
           for r in sgsc_lake.meter_daily.itertuples()}
    print(f"\n{'meter':<15}{'date':<12}{'read':>5}{'est.':>5}{'kWh gold':>10}{'kWh raw':>10}{'compl.':>8}{'expected':>9}")
    for key in sorted(set(got) | set(expected)):
        g, e = got.get(key), expected.get(key)
        print(f"{key[0]:<15}{key[1]!s:<12}{g.read if g else '-':>5}{g.estimated if g else '-':>5}"
              f"{g.kwh if g else '-':>10}{e.kwh if e else '-':>10}{g.completeness if g else '-':>8}"
              f"{e.completeness if e else '-':>9}")
    assert got == expected


def test_a_fixed_offset_half_hour_day_has_48_intervals(sgsc_lake: Lake) -> None:
    daily = sgsc_lake.meter_daily
    assert set(daily["intervals_expected"]) == {SLOTS}
    assert set(daily["interval_s"]) == {int(INTERVAL.total_seconds())}
    assert set(daily["timezone"]) == {"+10:00"}
    # The peak lies inside its own local day: [local midnight, next local midnight) at +10:00.
    local_peak_day = (daily["peak_at"] + UTC_OFFSET).dt.date
    assert (local_peak_day == daily["date"]).all()


def test_real_gaps_show_in_completeness(expected: dict[tuple, ExpectedDay], sgsc_lake: Lake) -> None:
    """The days picked for their gaps are the incomplete ones; a silent day has no gold row."""
    daily = sgsc_lake.meter_daily.set_index(["meter_id", "date"])
    incomplete = {key for key, row in daily.iterrows() if row["completeness"] < 1}
    assert incomplete == {("sgsc-10017994", date(2012, 10, 7)), ("sgsc-10017936", date(2012, 10, 7)),
                          ("sgsc-10006704", date(2013, 1, 4))}
    assert daily.loc[("sgsc-10017994", date(2012, 10, 7)), "completeness"] == Decimal("0.8333")  # (32 + 3+2+3) / 48
    assert daily.loc[("sgsc-10006704", date(2013, 1, 4)), "completeness"] == Decimal("0.5000")  # (13 + 11) / 48
    assert ("sgsc-10017554", date(2013, 12, 19)) not in daily.index
