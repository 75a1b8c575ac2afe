"""The generator's pure side: deterministic rows, right intervals on DST days, faults labelled."""

import hashlib
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs.runtime.config import GridConf
from jobs.ingest.seed_grid import synthetic_grid
from schemas import ground_truth as gt

TIRANE = ZoneInfo("Europe/Tirane")


def _checksum(rows: list[dict]) -> str:
    """sha256 over every row's columns in a fixed order, rows sorted: independent of the generator."""
    digest = hashlib.sha256()
    for line in sorted(repr(sorted(row.items())) for row in rows):
        digest.update(line.encode())
    return digest.hexdigest()


def _rows(seed: int, fault_rate: float = 0.05) -> list[dict]:
    grid = synthetic_grid(GridConf(), meters=80, days=2, start=date(2024, 7, 1), seed=seed, fault_rate=fault_rate)
    return list(grid.meter_rows()) + list(grid.sensor_rows())


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first, again, other = _checksum(_rows(11)), _checksum(_rows(11)), _checksum(_rows(12))
    assert first == again
    assert first != other


def _intervals_in_local_day(day: date, interval_s: int) -> int:
    start = datetime.combine(day, time(0), tzinfo=TIRANE).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=TIRANE).astimezone(UTC)
    return int((end - start).total_seconds()) // interval_s


@pytest.mark.parametrize("start, expected", [
    pytest.param(date(2024, 3, 30), {date(2024, 3, 30): 96, date(2024, 3, 31): 92, date(2024, 4, 1): 96},
                 id="spring-forward"),
    pytest.param(date(2024, 10, 26), {date(2024, 10, 26): 96, date(2024, 10, 27): 100, date(2024, 10, 28): 96},
                 id="fall-back"),
])
def test_intervals_per_local_day_on_dst_changes(start: date, expected: dict[date, int]) -> None:
    assert {day: _intervals_in_local_day(day, 900) for day in expected} == expected
    grid = synthetic_grid(GridConf(meter_churn=0), meters=30, days=3, start=start, seed=2, fault_rate=0)
    rows = list(grid.meter_rows())
    per_meter_day = Counter((row["meter_id"], row["day"]) for row in rows)
    assert {(meter, day): count for (meter, day), count in per_meter_day.items()} == {
        (meter.meter_id, day): count for meter in grid.catalogue.meters for day, count in expected.items()}
    for row in rows:  # every interval start lies in its local day, on the quarter hour
        local = row["ts"].replace(tzinfo=UTC).astimezone(TIRANE)
        assert local.date() == row["day"] and local.minute % 15 == 0 and local.second == 0
    sensor_days = Counter(row["day"] for row in grid.sensor_rows())
    sensors = len(grid.catalogue.sensors)
    # Ten-minute sensor intervals: 144 on an ordinary day, 138 and 150 on the DST days.
    assert sensor_days == {day: sensors * count * 3 // 2 for day, count in expected.items()}
    assert sensor_days == {day: sensors * _intervals_in_local_day(day, 600) for day in expected}


def test_every_injected_fault_kind_is_labelled() -> None:
    grid = synthetic_grid(GridConf(meter_churn=0.1), meters=60, days=3, start=date(2024, 1, 15), seed=5,
                          fault_rate=0.1)
    list(grid.meter_rows())
    assert set(gt.INJECTED_KINDS) <= {label.fault_kind for label in grid.labels}


def test_voltage_outside_ten_percent_only_where_labelled() -> None:
    conf = GridConf(sag_swell_rate=0.5, meters_per_transformer=10, transformers_per_feeder=2)
    grid = synthetic_grid(conf, meters=60, days=3, start=date(2024, 1, 15), seed=5, fault_rate=0.1)
    rows = list(grid.meter_rows())
    voltage_labels = {(label.device_id, label.ts) for label in grid.labels if label.fault_kind in (
        gt.VOLTAGE_SAG, gt.VOLTAGE_SWELL, gt.VOLTAGE_OUT_OF_RANGE)}
    unknown = {label.device_id for label in grid.labels if label.fault_kind == gt.UNKNOWN_METER}
    outside = {(row["meter_id"], row["ts"]) for row in rows if row["meter_id"] not in unknown
               and not 207 <= float(row["voltage_v"]) <= 253}
    assert outside and outside == voltage_labels - {(d, t) for d, t in voltage_labels if d in unknown}


def test_late_rows_are_held_back_then_written_alone() -> None:
    args = dict(meters=60, days=3, start=date(2024, 1, 15), seed=5, fault_rate=0.1)
    held = synthetic_grid(GridConf(), **args)
    rows = list(held.meter_rows())
    late = {(label.device_id, label.ts) for label in held.labels if label.fault_kind == gt.LATE_ARRIVAL}
    assert late and all(label.held_back for label in held.labels if label.fault_kind == gt.LATE_ARRIVAL)
    assert not late & {(row["meter_id"], row["ts"]) for row in rows}
    only = list(synthetic_grid(GridConf(), late_rows="only", **args).meter_rows())
    assert {(row["meter_id"], row["ts"]) for row in only} == late
    assert all(row["received_at"] - row["ts"] >= timedelta(days=3) for row in only)
    everything = list(synthetic_grid(GridConf(), late_rows="include", **args).meter_rows())
    assert _checksum(everything) == _checksum(rows + only)


def test_rows_carry_exactly_the_readings_fields() -> None:
    from schemas.cassandra import METER_READINGS, SENSOR_READINGS

    grid = synthetic_grid(GridConf(), meters=5, days=1, start=date(2024, 7, 1), seed=1, fault_rate=0)
    assert set(next(grid.meter_rows())) == set(METER_READINGS.row_fields)
    assert set(next(grid.sensor_rows())) == set(SENSOR_READINGS.row_fields)
