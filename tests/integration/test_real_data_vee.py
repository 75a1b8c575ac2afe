"""The real Tetouan zones and steel plant through extract and VEE: what is quarantined, and the
daily energy kept, compared with the raw files read apart from the loaders.

Each dataset is loaded whole into a scratch keyspace and three dates spread over its year run
in order. A real measurement is never impossible: the impossible-value rule reads the rating
the loader gave each connection (the zones' 40-60 MW, the plant's 1 MW), not its class's.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import load_real_data
from jobs.runtime.config import Settings
from jobs.stages import extract as extract_readings
from jobs.stages import validate as validate_readings
from jobs.stores.lake import LakeTableRef
from schemas import feeds, vee
from schemas.lake import PARTITION_COLUMN, SILVER_METER_READINGS, SILVER_QUARANTINE, LakeTable

pytestmark = pytest.mark.timeout(1800)

MILLI = Decimal("0.001")
DATES = {"tetouan": [date(2017, 3, 15), date(2017, 7, 1), date(2017, 12, 30)],
         "steel": [date(2018, 3, 15), date(2018, 7, 2), date(2018, 12, 30)]}


def raw_daily_kwh(dataset: str) -> dict[tuple[str, date], Decimal]:
    """kWh per (meter, local day) of DATES, from the file: Tetouan's zone power (kW) over 10
    minutes, to the Wh; the plant's kWh, each row on the date of its stamp (its 00:00 row closes
    that date)."""
    path = load_real_data.DEFAULT_DATA_DIR / {"tetouan": "tetouan_zones_10min.csv.gz",
                                               "steel": "steel_plant_15min.csv.gz"}[dataset]
    with gzip.open(path, "rt", encoding="utf-8-sig") as text:
        raw = pd.read_csv(text, dtype=str)
    wanted = set(DATES[dataset])
    totals: dict[tuple[str, date], Decimal] = {}
    if dataset == "tetouan":
        days = [datetime.strptime(stamp, "%m/%d/%Y %H:%M").date() for stamp in raw["DateTime"]]
        zones = {"tetouan-zone-1": "Zone 1 Power Consumption", "tetouan-zone-2": "Zone 2  Power Consumption",
                 "tetouan-zone-3": "Zone 3  Power Consumption"}
        for meter_id, column in zones.items():
            for day, kw in zip(days, raw[column], strict=True):
                if day in wanted:
                    kwh = (Decimal(kw) * 600 / 3600).quantize(MILLI, rounding=ROUND_HALF_EVEN)
                    totals[(meter_id, day)] = totals.get((meter_id, day), Decimal(0)) + kwh
    else:
        for stamp, kwh in zip(raw["date"], raw["Usage_kWh"], strict=True):
            day = datetime.strptime(stamp, "%d/%m/%Y %H:%M").date()
            if day in wanted:
                totals[("steel-plant-1", day)] = totals.get(("steel-plant-1", day), Decimal(0)) + Decimal(kwh)
    return totals


@pytest.fixture(scope="module", params=["tetouan", "steel"])
def validated(request: pytest.FixtureRequest, fresh_keyspace: Callable[[str], Settings], spark: SparkSession,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Settings]:
    dataset = request.param
    settings = fresh_keyspace(f"grid_{dataset}_vee_test")
    settings.lake.root = str(tmp_path_factory.mktemp(f"{dataset}-lake"))
    load_real_data.main(settings, dataset)
    for day in DATES[dataset]:
        extract_readings.extract_feed(spark, settings, feeds.METER_FEED, day)
        validate_readings.main(settings, day, spark)
    return dataset, settings


def lake_frame(spark: SparkSession, settings: Settings, table: LakeTable, days: list[date]) -> pd.DataFrame:
    ref = LakeTableRef(spark, settings.lake_root, table.path, settings.lake.format)
    return ref.read(table.spark_schema()).where(F.col(PARTITION_COLUMN).isin(*days)).toPandas()


def test_under_one_percent_is_quarantined_and_never_as_impossible(validated: tuple[str, Settings],
                                                                  spark: SparkSession) -> None:
    dataset, settings = validated
    raw = raw_daily_kwh(dataset)
    quarantine = lake_frame(spark, settings, SILVER_QUARANTINE, DATES[dataset])
    silver = lake_frame(spark, settings, SILVER_METER_READINGS, DATES[dataset])
    read = silver[~silver["status"].isin(vee.ESTIMATED)]
    share = len(quarantine) / (len(read) + len(quarantine))
    fired = quarantine["rule_id"].value_counts().to_dict() if len(quarantine) else {}
    print(f"{dataset}: {len(read) + len(quarantine):,} readings of {len(raw)} meter-days, quarantined {share:.3%}, "
          f"rules {fired}")
    assert share < 0.01, fired
    assert not any(vee.IMPOSSIBLE_VALUE in rule for rule in fired), fired


def test_the_daily_energy_kept_equals_the_raw_file(validated: tuple[str, Settings], spark: SparkSession) -> None:
    dataset, settings = validated
    silver = lake_frame(spark, settings, SILVER_METER_READINGS, DATES[dataset])
    read = silver[~silver["status"].isin(vee.ESTIMATED)]
    kept = {(row.meter_id, row.date): Decimal(0) for row in read.itertuples()}
    for row in read.itertuples():
        kept[(row.meter_id, row.date)] += row.kwh_import
    assert kept == raw_daily_kwh(dataset)
