"""`seed` into the real Cassandra: every labelled fault is visible in the stored rows.

One seed run (60 meters x 3 days over the October DST change, a high fault rate and many
sags so every kind occurs) in a scratch keyspace; each test reads back what it checks.
"""

import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from jobs.ingest import seed_grid
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings
from schemas import ground_truth as gt
from schemas.cassandra import METER_READINGS, SENSOR_READINGS, Table

KEYSPACE = "grid_seed_test"
START = date(2024, 10, 26)
ARGS = dict(meters=60, days=3, start=START, seed=3, fault_rate=0.2)


@pytest.fixture(scope="module")
def seeded(services: Settings) -> Iterator[tuple[Settings, seed_grid.SeedSummary]]:
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = KEYSPACE
    settings.grid.sag_swell_rate = 0.5
    settings.grid.meters_per_transformer = 10
    settings.grid.transformers_per_feeder = 2
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
    progress = []
    summary = seed_grid.main(settings, on_progress=progress.append, **ARGS)
    assert sum(progress) == summary.meter_rows + summary.sensor_rows
    yield settings, summary
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
    shutil.rmtree(summary.ground_truth_path.parents[1], ignore_errors=True)


def _labels(settings: Settings) -> dict[str, list]:
    with cassandra_session(settings) as session:
        rows = session.execute(f"SELECT * FROM {KEYSPACE}.fault_labels").all()
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row.fault_kind].append(row)
    return by_kind


def _partition(session, device_id: str, day: date, table: Table = METER_READINGS) -> list:
    """The readings of one stored partition, each channel as its value (its stored steps back)."""
    rows = session.execute(f"SELECT * FROM {KEYSPACE}.{table.name} WHERE {table.partition_key[0]} = %s AND day = %s",
                           (device_id, day))
    return [SimpleNamespace(**row._asdict(), **{
        channel.name: None if getattr(row, channel.column) is None else channel.from_stored(getattr(row, channel.column))
        for channel in table.channels}) for row in rows]


def test_every_injected_kind_is_in_the_ground_truth_table_and_parquet(seeded) -> None:
    settings, summary = seeded
    labels = _labels(settings)
    assert set(gt.INJECTED_KINDS) <= set(labels)
    assert gt.VOLTAGE_SAG in labels or gt.VOLTAGE_SWELL in labels
    parquet = pq.read_table(summary.ground_truth_path)
    assert parquet.schema == gt.ARROW_SCHEMA
    assert parquet.num_rows == sum(len(rows) for rows in labels.values()) == summary.labels


def test_each_fault_is_visible_in_the_stored_rows(seeded) -> None:
    settings, _ = seeded
    labels = _labels(settings)
    with cassandra_session(settings) as session:
        meters = {row.meter_id: row for row in session.execute(f"SELECT * FROM {KEYSPACE}.meters")}

        def rows_at(label):
            return [r for r in _partition(session, label.device_id, label.day) if r.ts == label.ts]

        for label in labels[gt.MISSING_INTERVAL] + labels[gt.MISSING_DAY] + labels[gt.LATE_ARRIVAL]:
            assert rows_at(label) == [], label
        for label in labels[gt.NEGATIVE_IMPORT]:
            assert [r.kwh_import < 0 for r in rows_at(label)] == [True]
        for label in labels[gt.ZERO_STREAK]:
            assert [r.kwh_import for r in rows_at(label)] == [Decimal("0.000")]
        frozen = defaultdict(list)
        for label in labels[gt.FROZEN_VALUE]:
            frozen[(label.device_id, label.day)] += [r.kwh_import for r in rows_at(label)]
        assert all(len(values) >= 8 and len(set(values)) == 1 and values[0] > 0 for values in frozen.values())
        for label in labels[gt.SPIKE]:
            day = [r.kwh_import for r in _partition(session, label.device_id, label.day)]
            median = sorted(day)[len(day) // 2]
            assert [r.kwh_import for r in rows_at(label)] == [label.written_value]
            assert label.written_value >= 3 * median and label.written_value > label.expected_value
        for label in labels[gt.DUPLICATE_EXACT]:
            found = rows_at(label)
            assert len(found) == 2 and len({r.ingest_id for r in found}) == 2
            assert len({(r.kwh_import, r.kwh_export, r.kvarh, r.voltage_v, r.current_a, r.power_factor)
                        for r in found}) == 1
        for label in labels[gt.DUPLICATE_CONFLICT]:
            found = rows_at(label)
            assert len(found) == 2 and found[0].kwh_import != found[1].kwh_import
        for label in labels[gt.FUTURE_TIMESTAMP]:
            (row,) = rows_at(label)
            assert row.ts - row.received_at > timedelta(days=29)
        for label in labels[gt.UNKNOWN_METER]:
            assert label.device_id not in meters and len(rows_at(label)) == 1
        for label in labels[gt.OUTSIDE_ACTIVE_DATES]:
            meter = meters[label.device_id]
            active_to = meter.active_to.date() if meter.active_to else None
            day = label.day.date()
            assert day < meter.active_from.date() or (active_to is not None and day > active_to)
            assert len(rows_at(label)) == 1
        for label in labels[gt.VOLTAGE_OUT_OF_RANGE]:
            assert [not 207 <= r.voltage_v <= 253 for r in rows_at(label)] == [True]
        for label in labels[gt.IMPOSSIBLE_VALUE]:
            (row,) = rows_at(label)
            # 250 kW is the largest connection of the grid: 62.5 kWh in a quarter hour.
            assert row.power_factor > 1 or row.kwh_import > Decimal("62.5") or (
                meters[label.device_id].meter_class != "industrial" and row.kwh_import > Decimal("12.5"))


def test_sags_and_swells_reach_every_meter_and_sensor_of_the_feeder(seeded) -> None:
    settings, _ = seeded
    labels = _labels(settings)
    events = {(label.device_id, label.ts, label.fault_kind) for kind in gt.GRID_EVENT_KINDS for label in labels[kind]}
    assert events
    with cassandra_session(settings) as session:
        meters = session.execute(f"SELECT meter_id, feeder_id, active_from, active_to FROM {KEYSPACE}.meters").all()
        sensors = session.execute(f"SELECT sensor_id, feeder_id FROM {KEYSPACE}.sensors").all()
        stored = {}
        for meter in meters:
            for offset in range(3):
                for row in _partition(session, meter.meter_id, START + timedelta(days=offset)):
                    stored.setdefault((meter.meter_id, row.ts), []).append(row.voltage_v)
        for sensor in sensors:
            for offset in range(3):
                for row in _partition(session, sensor.sensor_id, START + timedelta(days=offset),
                                      SENSOR_READINGS):
                    stored[(sensor.sensor_id, row.ts)] = [row.voltage_l1_v, row.voltage_l2_v, row.voltage_l3_v]
    feeder_of = {m.meter_id: m.feeder_id for m in meters} | {s.sensor_id: s.feeder_id for s in sensors}
    local_faults = {(label.device_id, label.ts) for label in labels[gt.VOLTAGE_OUT_OF_RANGE]}
    for device_id, ts, kind in events:
        if (device_id, ts) in local_faults:
            continue  # a meter's own voltage fault overrides what the feeder does
        assert all(v < 207 if kind == gt.VOLTAGE_SAG else v > 253 for v in stored[(device_id, ts)])
    # Every meter and feeder/transformer sensor of the feeder that reported at that instant is labelled.
    for (device_id, ts, kind) in {(d, t, k) for d, t, k in events if d in feeder_of}:
        feeder = feeder_of[device_id]
        reporting = {d for (d, t) in stored if t == ts and feeder_of.get(d) == feeder}
        assert reporting <= {d for d, t, k in events if t == ts}


def test_dst_day_has_100_quarter_hours_and_late_rows_arrive_on_request(seeded) -> None:
    settings, summary = seeded
    labels = _labels(settings)
    faulty = {label.device_id for kind in gt.INJECTED_KINDS for label in labels.get(kind, [])}
    with cassandra_session(settings) as session:
        meter_ids = [row.meter_id for row in session.execute(f"SELECT meter_id FROM {KEYSPACE}.meters")]
        clean = next(m for m in sorted(meter_ids) if m not in faulty and len(_partition(session, m, START)) == 96)
        assert len(_partition(session, clean, date(2024, 10, 27))) == 100
        assert len(_partition(session, clean, date(2024, 10, 28))) == 96
        late = labels[gt.LATE_ARRIVAL]
        arrived = seed_grid.main(settings, late_rows="only", **ARGS)
        assert arrived.meter_rows == summary.held_back_rows == len(late)
        for label in late:
            (row,) = [r for r in _partition(session, label.device_id, label.day) if r.ts == label.ts]
            assert row.received_at - row.ts >= timedelta(days=settings.grid.late_after_days)
            assert row.ingest_id == label.ingest_id
