"""Loading the real datasets into the real Cassandra: counts, kWh per meter and local day, reruns, bad files.

The expected figures come from an independent path: pandas reads the raw file and does its
own timezone conversion and unit arithmetic in floats; Cassandra sums the stored decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from builders.sources import sgsc_file
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from jobs.ingest import load_real_data
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings
from jobs.ingest.sources import BadInputError

DATA = load_real_data.DEFAULT_DATA_DIR
TETOUAN_ZONES = {"Zone 1 Power Consumption": "tetouan-zone-1", "Zone 2  Power Consumption": "tetouan-zone-2",
                 "Zone 3  Power Consumption": "tetouan-zone-3"}


def sgsc_expected() -> pd.DataFrame:
    """kWh per meter and local day: the file's start times are already local days at +10:00."""
    raw = pd.read_csv(DATA / "sgsc_households_halfhourly.csv.gz")
    start = pd.to_datetime(raw["reading_datetime"], format="%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame({"meter_id": "sgsc-" + raw["customer_id"].astype(str), "day": start.dt.date,
                          "kwh": raw["general_supply_kwh"]})
    return frame.groupby(["meter_id", "day"])["kwh"].agg(["sum", "count"])


def tetouan_expected() -> pd.DataFrame:
    """kWh per zone and day: average kW times 1/6 h, summed in floats."""
    raw = pd.read_csv(DATA / "tetouan_zones_10min.csv.gz")
    start = pd.to_datetime(raw["DateTime"], format="%m/%d/%Y %H:%M")
    frames = [pd.DataFrame({"meter_id": meter, "day": start.dt.date, "kwh": raw[column] / 6})
              for column, meter in TETOUAN_ZONES.items()]
    return pd.concat(frames).groupby(["meter_id", "day"])["kwh"].agg(["sum", "count"])


def steel_expected() -> pd.DataFrame:
    """kWh per local day in Seoul: the stamp is the interval's end, so the day is that of (end - 15 min),
    with a 00:00 stamp read as 24:00 of its own date (pandas: + 1 day)."""
    raw = pd.read_csv(DATA / "steel_plant_15min.csv.gz", encoding="utf-8-sig")
    end = pd.to_datetime(raw["date"], format="%d/%m/%Y %H:%M")
    end = end.where(raw["NSM"] != 0, end + pd.Timedelta(days=1))
    start_utc = (end - pd.Timedelta(minutes=15)).dt.tz_localize("Asia/Seoul").dt.tz_convert("UTC")
    day = start_utc.dt.tz_convert("Asia/Seoul").dt.date
    frame = pd.DataFrame({"meter_id": "steel-plant-1", "day": day, "kwh": raw["Usage_kWh"]})
    return frame.groupby(["meter_id", "day"])["kwh"].agg(["sum", "count"])


def stored_per_day(session: Session, keyspace: str, partitions: list[tuple[str, date]]) -> dict[tuple[str, date], Any]:
    """Cassandra's own sum of Wh (kWh as stored, in steps of 0.001) and count per (meter, local day) partition."""
    select = session.prepare(f"SELECT sum(kwh_import_x1000) AS wh, count(*) AS n FROM {keyspace}.meter_readings "
                             "WHERE meter_id = ? AND day = ?")
    results = execute_concurrent_with_args(session, select, partitions, concurrency=64, raise_on_first_error=True)
    return {key: result.result_or_exc.one() for key, result in zip(partitions, results)}


def stored_partitions(session: Session, keyspace: str) -> set[tuple[str, date]]:
    """Every (meter, local day) partition the table holds."""
    rows = session.execute(f"SELECT DISTINCT meter_id, day FROM {keyspace}.meter_readings")
    return {(row.meter_id, date.fromisoformat(str(row.day))) for row in rows}


@pytest.fixture(scope="module")
def scratch(fresh_keyspace: Callable[[str], Settings]) -> Settings:
    """A keyspace of its own for this module, dropped afterwards."""
    return fresh_keyspace("grid_load_test")


@pytest.fixture
def empty_keyspace(fresh_keyspace: Callable[[str], Settings]) -> Settings:
    """A keyspace with the schema and nothing in it."""
    return fresh_keyspace("grid_load_bad_test")


EXPECTED = {"sgsc": sgsc_expected, "tetouan": tetouan_expected, "steel": steel_expected}
METERS = {"sgsc": 10, "tetouan": 3, "steel": 1}
#: How far one stored reading may be from the file's value: SGSC and steel are exact in Wh,
#: Tetouan's kW/6 is rounded to the Wh once per reading.
ROUNDING_KWH = {"sgsc": 0.0, "tetouan": 0.0005, "steel": 0.0}


@pytest.mark.parametrize("dataset", ["sgsc", "tetouan", "steel"])
def test_real_dataset_loads_every_reading_and_its_kwh_per_local_day(scratch: Settings, dataset: str) -> None:
    expected = EXPECTED[dataset]()
    summary = load_real_data.main(scratch, dataset)
    keyspace = scratch.cassandra.keyspace
    meter_ids = sorted(expected.index.get_level_values("meter_id").unique())
    with cassandra_session(scratch) as session:
        stored = stored_per_day(session, keyspace, list(expected.index))
        present = {p for p in stored_partitions(session, keyspace) if p[0] in meter_ids}
        select_meters = session.prepare(f"SELECT meter_id, source, active_from, active_to FROM {keyspace}.meters "
                                        "WHERE meter_id IN ?")
        meters = session.execute(select_meters, (meter_ids,)).all()

    file_rows = int(expected["count"].sum())
    assert summary.rows_read == file_rows
    assert summary.rows_loaded == file_rows - sum(summary.rejects.values())
    assert sum(row.n for row in stored.values()) == summary.rows_loaded
    assert present == set(expected.index)
    for key, day in expected.iterrows():
        assert abs(stored[key].wh / 1000 - day["sum"]) <= ROUNDING_KWH[dataset] * day["count"] + 1e-6, key
    assert summary.meters == len(meters) == METERS[dataset]
    span = expected.reset_index().groupby("meter_id")["day"].agg(["min", "max"])
    assert {(m.meter_id, m.source, str(m.active_from), str(m.active_to)) for m in meters} == {
        (meter, dataset, str(days["min"]), str(days["max"])) for meter, days in span.iterrows()}


def test_rerun_of_a_real_file_stores_nothing_twice(scratch: Settings) -> None:
    expected = steel_expected()
    load_real_data.main(scratch, "steel")
    second = load_real_data.main(scratch, "steel")
    with cassandra_session(scratch) as session:
        stored = stored_per_day(session, scratch.cassandra.keyspace, list(expected.index))
    assert second.rows_loaded == sum(row.n for row in stored.values()) == int(expected["count"].sum()) == 35040


def test_duplicated_lines_are_kept_as_received(scratch: Settings, tmp_path: Path) -> None:
    lines = ["8,2012-02-10 08:00:00,0.141", "8,2012-02-10 08:00:00,0.141", "8,2012-02-10 08:30:00,0.088"]
    path = sgsc_file(tmp_path / "duplicates.csv.gz", lines, gz=True)
    load_real_data.main(scratch, "sgsc", path=path)
    load_real_data.main(scratch, "sgsc", path=path)
    with cassandra_session(scratch) as session:
        rows = session.execute(f"SELECT ts, ingest_id FROM {scratch.cassandra.keyspace}.meter_readings "
                               "WHERE meter_id = 'sgsc-8' AND day = '2012-02-10'").all()
    # The duplicated line stays two readings (two ingest ids, lines 2 and 3); the rerun adds none.
    assert [row.ingest_id.rsplit(":", 1)[1] for row in rows] == ["2", "3", "4"]


def test_rejects_are_stored_with_reason_and_raw_line(scratch: Settings, tmp_path: Path) -> None:
    path = sgsc_file(tmp_path / "sydney.csv", ["9,2012-10-07 01:30:00,0.1", "9,2012-10-07 02:30:00,0.2",
                                               "9,2012-10-07 03:00:00,"])
    summary = load_real_data.main(scratch, "sgsc", path=path, tz="Australia/Sydney")
    with cassandra_session(scratch) as session:
        rejects = session.execute(f"SELECT line, reason, raw FROM {scratch.cassandra.keyspace}.load_rejects "
                                  "WHERE source = 'sgsc' AND file = 'sydney.csv'").all()
    assert summary.rejects == {"nonexistent local time": 1, "empty cell": 1}
    assert [(r.line, r.reason, r.raw) for r in rejects] == [
        (3, "nonexistent local time: 2012-10-07 02:30 in Australia/Sydney", "9,2012-10-07 02:30:00,0.2"),
        (4, "empty cell: column general_supply_kwh", "9,2012-10-07 03:00:00,"),
    ]


@pytest.mark.parametrize(("last_value", "error"), [
    ("abc", r"^bad.csv line 4 column general_supply_kwh: 'abc' is not a number$"),
    # Parsed, but beyond what kwh_import keeps: decimal(10,3), stored in Wh.
    ("12345678.9", r"^bad.csv line 4: kwh_import = 12345678\.900 does not fit decimal\(10,3\)$"),
], ids=["not a number", "too large to store"])
def test_bad_file_leaves_cassandra_untouched(empty_keyspace: Settings, tmp_path: Path, last_value: str,
                                             error: str) -> None:
    # Good lines and a reject first, the bad value last: nothing at all may be written.
    path = sgsc_file(tmp_path / "bad.csv", ["5,2012-02-10 08:00:00,0.1", "5,2012-02-10 08:30:00,",
                                            f"5,2012-02-10 09:00:00,{last_value}"])
    with pytest.raises(BadInputError, match=error):
        load_real_data.main(empty_keyspace, "sgsc", path=path)
    keyspace = empty_keyspace.cassandra.keyspace
    with cassandra_session(empty_keyspace) as session:
        counts = {table: session.execute(f"SELECT count(*) FROM {keyspace}.{table}").one()[0]
                  for table in ("meter_readings", "meter_days", "meters", "load_rejects")}
    assert counts == {"meter_readings": 0, "meter_days": 0, "meters": 0, "load_rejects": 0}
