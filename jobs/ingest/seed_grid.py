"""`gridlake seed`: a synthetic grid with realistic readings and known faults, into Cassandra.

Builds the catalogue (jobs/ingest/grid_model.py), then, day by day, every meter's readings every
``grid.meter_interval_s`` in the meter's local day (``day`` = local date, ``ts`` = UTC
interval start; DST days have 92 or 100 quarter hours) and every sensor's readings every
``grid.sensor_interval_s``. Each meter-day is generated with numpy from its own seeded
Generator (so the same seed gives the same rows whatever the order) and converted to
Decimals at the meter's resolution only at the end.

Faults are injected at ``fault_rate`` and recorded as ground truth (schemas/ground_truth.py
documents the format, the kinds and how late rows are held back).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from jobs.ingest import load_shapes
from jobs.ingest.grid_model import CONNECTION_KW, THREE_PHASE, GridCatalogue, Meter, Sensor, build_grid
from jobs.runtime.config import GridConf, Settings
from jobs.stores.cassandra_writer import write_readings
from jobs.stores.cassandra_profiles import WRITES
from jobs.stores.clients import cassandra_session
from schemas import ground_truth as gt
from schemas.cassandra import (
    FAULT_LABELS,
    METER_DAYS,
    METER_READINGS,
    METERS,
    SENSOR_DAYS,
    SENSOR_READINGS,
    SENSORS,
    Table,
)

log = logging.getLogger(__name__)

SOURCE = "seed"
#: Readings reach the head-end this long after their interval ends.
DELIVERY_DELAY = timedelta(minutes=5)
#: Extra rows (duplicates, clock errors) arrive this much later than the original.
REDELIVERY_DELAY = timedelta(hours=1)
#: Meter channels as integers at the meter's resolution: name -> decimal places.
METER_SCALE = {"kwh_import": 3, "kwh_export": 3, "kvarh": 3, "voltage_v": 1, "current_a": 2, "power_factor": 3}
#: A meter row's columns in the order ``_rows`` builds its values.
METER_ROW_COLUMNS = ("meter_id", "day", "ts", "ingest_id", "interval_s", *METER_SCALE, "source", "received_at")
SENSOR_SCALE = {"voltage_l1_v": 1, "voltage_l2_v": 1, "voltage_l3_v": 1, "current_a": 1, "frequency_hz": 3,
                "transformer_temp_c": 1}
#: Unknown meters get ids in a range the catalogue never uses.
UNKNOWN_METER_BASE = 9_000_000
#: Sags and swells start and end on these boundaries, so 10- and 15-minute intervals see them whole.
EVENT_GRID_S = 1800

LateRows = Literal["hold", "only", "include"]


#: Meter classes that get spikes: their load stays far below the connection's capacity, so a
#: spike (capped at 0.9 x capacity) stands out. An industrial or EV-charging meter can run near
#: capacity all day, where a capped "spike" is indistinguishable from load by any rule.
SPIKE_CLASSES = ("residential", "prosumer", "commercial")


@dataclass
class SeedSummary:
    """What one seed run wrote."""

    meters: int
    sensors: int
    meter_rows: int
    sensor_rows: int
    held_back_rows: int
    labels: int
    faults: dict[str, int]
    seconds: float
    ground_truth_path: Path | None

    @property
    def rows_per_s(self) -> float:
        return (self.meter_rows + self.sensor_rows) / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class DayClock:
    """The intervals of one local day: UTC starts, local and UTC clock hours, weather."""

    day: date
    index: int
    ts: list[datetime]  # naive UTC, as the driver stores timestamps
    received_at: list[datetime]  # when each interval's reading reaches the head-end
    epoch_s: np.ndarray
    local_hour: np.ndarray
    utc_hour: np.ndarray
    weekend: bool
    temperature_c: np.ndarray


def day_clock(day: date, index: int, zone: ZoneInfo, interval_s: int) -> DayClock:
    """Every interval start of local day ``day`` in ``zone``: 96 quarter hours on an ordinary
    day, 92 when clocks go forward, 100 when they go back."""
    first = datetime.combine(day, clock_time(0), tzinfo=zone).astimezone(UTC)
    after = datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=zone).astimezone(UTC)
    count = int((after - first).total_seconds()) // interval_s
    starts = [first + timedelta(seconds=k * interval_s) for k in range(count)]
    local = [start.astimezone(zone) for start in starts]
    local_hour = np.array([t.hour + t.minute / 60 + interval_s / 7200 for t in local])
    utc_hour = np.array([t.hour + t.minute / 60 + interval_s / 7200 for t in starts])
    return DayClock(
        day=day, index=index, ts=[start.replace(tzinfo=None) for start in starts],
        received_at=[start.replace(tzinfo=None) + timedelta(seconds=interval_s) + DELIVERY_DELAY for start in starts],
        epoch_s=np.array([int(start.timestamp()) for start in starts], dtype=np.int64),
        local_hour=local_hour, utc_hour=utc_hour, weekend=day.weekday() >= 5,
        temperature_c=load_shapes.temperature_c(day, local_hour),
    )


@dataclass(frozen=True)
class VoltageEvent:
    """A sag or swell on a feeder: [start, end) in epoch seconds at ``level_pu`` of nominal."""

    kind: str
    start_s: int
    end_s: int
    level_pu: float

    def covers(self, epoch_s: np.ndarray) -> np.ndarray:
        return (epoch_s >= self.start_s) & (epoch_s < self.end_s)


def plan_voltage_events(feeder_ids: list[str], clocks: list[DayClock], rate: float, seed: int) -> dict[
        tuple[str, int], VoltageEvent]:
    """Which feeder-days have a sag or swell, when and how deep: sags at 0.80-0.86 of nominal,
    swells at 1.14-1.17, so both stay outside +-10% on every meter whatever its own offset
    (-0.025..+0.005 per unit) and noise."""
    events = {}
    for feeder_no, feeder_id in enumerate(feeder_ids):
        for clock in clocks:
            rng = np.random.default_rng([seed, 3, feeder_no, clock.index])
            if rng.random() >= rate:
                continue
            slots = int(clock.epoch_s[-1] - clock.epoch_s[0]) // EVENT_GRID_S
            start = int(clock.epoch_s[0]) + EVENT_GRID_S * int(rng.integers(0, slots - 1))
            sag = rng.random() < 0.7
            events[(feeder_id, clock.index)] = VoltageEvent(
                kind=gt.VOLTAGE_SAG if sag else gt.VOLTAGE_SWELL, start_s=start,
                end_s=start + EVENT_GRID_S * int(rng.integers(1, 3)),
                level_pu=float(rng.uniform(0.80, 0.86) if sag else rng.uniform(1.14, 1.17)))
    return events


def plan_faults(catalogue: GridCatalogue, clocks: list[DayClock], fault_rate: float, seed: int) -> dict[
        tuple[int, int], str]:
    """Which (meter index, day index) carries which fault: ``fault_rate`` of the active
    meter-days, one fault each, every kind at least once. ``outside_active_dates`` goes to a
    day the meter is not active (none exists when no meter starts or ends in the range);
    spikes go only to meters of SPIKE_CLASSES."""
    if fault_rate <= 0:
        return {}
    active = [(m.index, c.index) for c in clocks for m in catalogue.meters if m.active_on(c.day)]
    inactive = [(m.index, c.index) for c in clocks for m in catalogue.meters if not m.active_on(c.day)]
    rng = np.random.default_rng([seed, 1])
    count = min(len(active), max(len(gt.INJECTED_KINDS), round(fault_rate * len(active))))
    kinds = list(gt.INJECTED_KINDS)[:count]
    kinds += [gt.INJECTED_KINDS[i] for i in rng.integers(0, len(gt.INJECTED_KINDS), count - len(kinds))]
    active_slots = iter(rng.permutation(len(active)).tolist())
    inactive_slots = iter(rng.permutation(len(inactive)).tolist())
    plan = {}
    meter_class = {m.index: m.meter_class for m in catalogue.meters}
    deferred: list[int] = []
    for kind in kinds:
        if kind == gt.OUTSIDE_ACTIVE_DATES:
            slot = next(inactive_slots, None)
            if slot is not None:
                plan[inactive[slot]] = kind
            continue
        slot = deferred.pop(0) if deferred and kind != gt.SPIKE else next(active_slots, None)
        while kind == gt.SPIKE and slot is not None and meter_class[active[slot][0]] not in SPIKE_CLASSES:
            deferred.append(slot)  # kept for a later fault of another kind
            slot = next(active_slots, None)
        if slot is not None:
            plan[active[slot]] = kind
    return plan


class _Decimals:
    """Integers at a resolution to Decimals, each distinct value built once (readings repeat)."""

    def __init__(self, places: int) -> None:
        self.places = places
        self.known: dict[int, Decimal] = {}

    def __call__(self, values: list[int]) -> list[Decimal]:
        known = self.known
        out = []
        for value in values:
            number = known.get(value)
            if number is None:
                number = known[value] = Decimal(value).scaleb(-self.places)
            out.append(number)
        return out


@dataclass
class SyntheticGrid:
    """The generated grid: its catalogue, its readings (streamed) and the ground truth.

    ``meter_rows()`` must run before ``sensor_rows()``: sensors measure the load the meters
    drew. Labels of both accumulate in ``labels`` as the rows stream out.
    """

    conf: GridConf
    catalogue: GridCatalogue
    clocks: list[DayClock]
    sensor_clocks: list[DayClock]
    seed: int
    faults: dict[tuple[int, int], str]
    events: dict[tuple[str, int], VoltageEvent]
    late_rows: LateRows = "hold"
    labels: list[gt.FaultLabel] = field(default_factory=list)
    held_back_rows: int = 0
    _load_kw: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    _decimals: dict[tuple[str, str], _Decimals] = field(default_factory=dict)
    _feeder_no: dict[str, int] = field(default_factory=dict)
    _feeder_pu_known: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for device_type, scales in (("meter", METER_SCALE), ("sensor", SENSOR_SCALE)):
            for name, places in scales.items():
                self._decimals[(device_type, name)] = _Decimals(places)
        self._feeder_no = {feeder_id: no for no, feeder_id in enumerate(self.catalogue.feeder_ids)}

    # -- meters ---------------------------------------------------------------------------
    def meter_rows(self) -> Iterator[dict[str, Any]]:
        """Every meter's rows, one (meter, day) partition after the other."""
        for clock in self.clocks:
            clearness = float(np.random.default_rng([self.seed, 4, clock.index]).uniform(0.3, 1.0))
            demand = {}
            for meter in self.catalogue.meters:
                kind = self.faults.get((meter.index, clock.index))
                if not meter.active_on(clock.day) and kind != gt.OUTSIDE_ACTIVE_DATES:
                    continue
                if meter.meter_class not in demand:
                    demand[meter.meter_class] = load_shapes.demand_kw(meter.meter_class, clock.local_hour,
                                                                      clock.weekend, clock.temperature_c)
                channels, net_kw = self._meter_channels(meter, clock, demand[meter.meter_class], clearness)
                key = (meter.transformer_id, clock.index)
                self._load_kw[key] = self._load_kw.get(key, 0.0) + net_kw
                yield from self._meter_day(meter, clock, channels, kind)

    def _meter_channels(self, meter: Meter, clock: DayClock, demand_kw: np.ndarray,
                        clearness: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One meter-day's channels as integers at the meter's resolution, and its net kW."""
        rng = np.random.default_rng([self.seed, 10, meter.index, clock.index])
        n = len(clock.ts)
        hours = self.conf.meter_interval_s / 3600
        load_kw = demand_kw * meter.size * rng.lognormal(0.0, 0.18, n)
        solar = (load_shapes.solar_kw(meter.pv_kwp, clock.day, clock.utc_hour, clearness, self.conf.centre_lon)
                 if meter.pv_kwp else 0.0)
        net_kw = load_kw - solar
        pf = np.clip(load_shapes.POWER_FACTOR[meter.meter_class] + rng.normal(0, 0.012, n), 0.5, 0.999)
        pu = self._feeder_pu(meter.feeder_id, clock)
        voltage_v = self.conf.nominal_voltage_v * (pu + meter.voltage_offset_pu + rng.normal(0, 0.002, n))
        phases = 3 if meter.meter_class in THREE_PHASE else 1
        current_a = np.abs(net_kw) * 1000 / (phases * voltage_v * pf)
        kwh_import = np.maximum(net_kw, 0) * hours
        channels = {
            "kwh_import": kwh_import,
            "kwh_export": np.maximum(-net_kw, 0) * hours,
            "kvarh": kwh_import * np.tan(np.arccos(pf)),
            "voltage_v": voltage_v,
            "current_a": current_a,
            "power_factor": pf,
        }
        return {name: np.rint(values * 10 ** METER_SCALE[name]).astype(np.int64)
                for name, values in channels.items()}, net_kw

    def _feeder_pu(self, feeder_id: str, clock: DayClock) -> np.ndarray:
        """The feeder's per-unit voltage at the clock's instants, sag or swell included: the
        same function of time for its meters and its sensors."""
        key = (feeder_id, clock.index, len(clock.ts))
        if key not in self._feeder_pu_known:
            rng = np.random.default_rng([self.seed, 5, self._feeder_no[feeder_id], clock.index])
            pu = 1.0 + np.clip(load_shapes.feeder_voltage_pu(clock.local_hour, float(rng.normal(0.01, 0.01))),
                               -0.05, 0.05)
            event = self.events.get((feeder_id, clock.index))
            if event is not None:
                pu = np.where(event.covers(clock.epoch_s), event.level_pu, pu)
            self._feeder_pu_known[key] = pu
        return self._feeder_pu_known[key]

    def _meter_day(self, meter: Meter, clock: DayClock, ints: dict[str, np.ndarray],
                   kind: str | None) -> Iterator[dict[str, Any]]:
        """The rows of one meter-day, with its fault (if any) applied and labelled."""
        if kind == gt.UNKNOWN_METER:
            yield from self._meter_day(meter, clock, ints, None)  # the known meter reports normally
            if self.late_rows != "only":
                yield from self._unknown_meter_day(meter, clock, ints)
            return
        meter_id = meter.meter_id
        n = len(clock.ts)
        true_import = ints["kwh_import"].copy()
        removed: set[int] = set()
        late: set[int] = set()
        extra: list[tuple[int, str, dict[str, np.ndarray], datetime | None]] = []
        labelled: list[tuple[int, str, str, int | None, int | None]] = []  # k, kind, channel, expected, written
        rng = np.random.default_rng([self.seed, 2, meter.index, clock.index])
        k = int(rng.integers(0, n))
        run = slice(k, min(n, k + int(rng.integers(8, 17))))
        interval_kwh = int(CONNECTION_KW[meter.meter_class] * self.conf.meter_interval_s / 3600 * 1000)
        if kind == gt.MISSING_INTERVAL:
            removed = set(range(k, min(n, k + int(rng.integers(1, 5)))))
            labelled = [(i, kind, "kwh_import", true_import[i], None) for i in sorted(removed)]
        elif kind == gt.MISSING_DAY:
            removed = set(range(n))
            labelled = [(i, kind, "kwh_import", true_import[i], None) for i in range(n)]
        elif kind == gt.SPIKE:
            ints["kwh_import"][k] = min(int(interval_kwh * 0.9), max(10 * true_import[k],
                                                                     8 * int(true_import.mean()), 200))
        elif kind == gt.NEGATIVE_IMPORT:
            ints["kwh_import"][k] = -max(int(true_import[k]), 1)
        elif kind == gt.FROZEN_VALUE:
            ints["kwh_import"][run] = max(int(true_import[k]), 50)
        elif kind == gt.ZERO_STREAK:
            ints["kwh_import"][run] = 0
        elif kind == gt.VOLTAGE_OUT_OF_RANGE:
            level = rng.uniform(0.80, 0.87) if rng.random() < 0.5 else rng.uniform(1.12, 1.18)
            span = slice(k, min(n, k + int(rng.integers(1, 5))))
            expected = ints["voltage_v"][span].copy()
            ints["voltage_v"][span] = int(round(self.conf.nominal_voltage_v * level * 10))
            labelled = [(i, kind, "voltage_v", expected[i - k], ints["voltage_v"][i]) for i in range(k, span.stop)]
        elif kind == gt.IMPOSSIBLE_VALUE:
            if rng.random() < 0.5:
                ints["kwh_import"][k] = int(interval_kwh * rng.uniform(3, 10))
            else:
                expected_pf = int(ints["power_factor"][k])
                ints["power_factor"][k] = int(rng.integers(1050, 1900))
                labelled = [(k, kind, "power_factor", expected_pf, ints["power_factor"][k])]
        elif kind == gt.LATE_ARRIVAL:
            late = {k}
        elif kind in (gt.DUPLICATE_EXACT, gt.DUPLICATE_CONFLICT, gt.FUTURE_TIMESTAMP):
            copy = {name: values[k:k + 1].copy() for name, values in ints.items()}
            future = None
            if kind == gt.DUPLICATE_CONFLICT:
                copy["kwh_import"][0] += max(1, int(copy["kwh_import"][0] * 0.3))
            if kind == gt.FUTURE_TIMESTAMP:
                future = clock.ts[k] + timedelta(days=int(rng.integers(30, 400)))
            extra.append((k, kind, copy, future))
            labelled = [(k, kind, "kwh_import", true_import[k], copy["kwh_import"][0])]
        if kind in (gt.SPIKE, gt.NEGATIVE_IMPORT, gt.FROZEN_VALUE, gt.ZERO_STREAK) or (
                kind == gt.IMPOSSIBLE_VALUE and not labelled):
            span = range(k, run.stop) if kind in (gt.FROZEN_VALUE, gt.ZERO_STREAK) else range(k, k + 1)
            labelled = [(i, kind, "kwh_import", true_import[i], ints["kwh_import"][i]) for i in span]
        if kind == gt.LATE_ARRIVAL:
            labelled = [(k, kind, "kwh_import", true_import[k], true_import[k])]
        if kind == gt.OUTSIDE_ACTIVE_DATES:
            labelled = [(i, kind, "kwh_import", true_import[i], true_import[i]) for i in range(n)]
        event = self.events.get((meter.feeder_id, clock.index))
        if event is not None:
            hit = np.flatnonzero(event.covers(clock.epoch_s))
            labelled += [(int(i), event.kind, "voltage_v", None, ints["voltage_v"][i]) for i in hit
                         if i not in removed]

        device_id = meter_id
        rows = list(self._rows(device_id, clock, ints, removed, late))
        for k_extra, extra_kind, values, future in extra:
            row = next(self._rows(device_id, clock, values, (), (), first=k_extra, suffix=extra_kind, ts=future))
            rows.append(row)
        by_k = {int(row["ingest_id"].rsplit(":", 1)[1]): row for row in rows if row["ingest_id"].count(":") == 4}
        for k_label, label_kind, channel, expected, written in labelled:
            source_row = next((row for row in rows if row["ingest_id"].endswith(f":{k_label}:{label_kind}")),
                              by_k.get(k_label))
            if k_label in late:
                source_row = self._late_row(device_id, clock, ints, k_label)
            self._label(clock, device_id, "meter", source_row, clock.ts[k_label], label_kind, channel, expected,
                        written, held_back=k_label in late, places=METER_SCALE[channel])
        if self.late_rows == "only":
            rows = [self._late_row(device_id, clock, ints, k_late) for k_late in sorted(late)]
        elif self.late_rows == "include":
            rows += [self._late_row(device_id, clock, ints, k_late) for k_late in sorted(late)]
        else:
            self.held_back_rows += len(late)
        yield from rows

    def _unknown_meter_day(self, meter: Meter, clock: DayClock, ints: dict[str, np.ndarray]) -> Iterator[
            dict[str, Any]]:
        """A whole day of a meter's readings under an id the catalogue does not know."""
        device_id = f"MTR-{UNKNOWN_METER_BASE + meter.index * 1000 + clock.index:07d}"
        for row, k in zip(self._rows(device_id, clock, ints, (), ()), range(len(clock.ts))):
            value = int(ints["kwh_import"][k])
            self._label(clock, device_id, "meter", row, row["ts"], gt.UNKNOWN_METER, "kwh_import", value, value,
                        held_back=False, places=METER_SCALE["kwh_import"])
            yield row

    def _rows(self, device_id: str, clock: DayClock, ints: dict[str, np.ndarray], removed: Any, late: Any,
              first: int = 0, suffix: str = "", ts: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Rows of a device-day from integer channels; ``first`` is the interval number of
        the first value, ``suffix`` marks extra rows (their own ingest_id), ``ts`` overrides the stamp."""
        channels = [self._decimals[("meter", name)](ints[name].tolist()) for name in METER_SCALE]
        count = len(channels[0])
        prefix = f"seed:{self.seed}:{device_id}:{clock.day.isoformat()}"
        tail = f":{suffix}" if suffix else ""
        numbers = range(first, first + count)
        stamps = [ts] * count if ts else clock.ts[first:first + count]
        received = clock.received_at[first:first + count]
        if suffix:
            received = [moment + REDELIVERY_DELAY for moment in received]
        for k, values in zip(numbers, zip(repeat(device_id), repeat(clock.day), stamps,
                                          [f"{prefix}:{k}{tail}" for k in numbers],
                                          repeat(self.conf.meter_interval_s), *channels, repeat(SOURCE), received)):
            if k not in removed and k not in late:
                yield dict(zip(METER_ROW_COLUMNS, values))

    def _late_row(self, device_id: str, clock: DayClock, ints: dict[str, np.ndarray], k: int) -> dict[str, Any]:
        values = {name: column[k:k + 1] for name, column in ints.items()}
        row = next(self._rows(device_id, clock, values, (), (), first=k))
        row["received_at"] = clock.ts[k] + timedelta(days=self.conf.late_after_days)
        return row

    def _label(self, clock: DayClock, device_id: str, device_type: str, row: dict[str, Any] | None, ts: datetime,
               kind: str, channel: str, expected: int | None, written: int | None, held_back: bool,
               places: int) -> None:
        def number(value: int | None) -> Decimal | None:
            return None if value is None else Decimal(int(value)).scaleb(-places)

        self.labels.append(gt.FaultLabel(
            day=clock.day, device_id=device_id, ts=row["ts"] if row else ts, fault_kind=kind,
            device_type=device_type, channel=channel, expected_value=number(expected),
            written_value=number(written) if row else None, ingest_id=row["ingest_id"] if row else None,
            received_at=row["received_at"] if row else None, held_back=held_back, seed=self.seed))

    # -- sensors --------------------------------------------------------------------------
    def sensor_rows(self) -> Iterator[dict[str, Any]]:
        """Every sensor's rows: per-phase voltage of its feeder (sags and swells included),
        the current its transformers carry, the grid's one frequency, transformer temperature."""
        transformers = [s for s in self.catalogue.sensors if s.transformer_id]
        served = {sensor.sensor_id: [tx.transformer_id for tx in transformers
                                     if tx.substation_id == sensor.substation_id
                                     and sensor.feeder_id in (None, tx.feeder_id)
                                     and sensor.transformer_id in (None, tx.transformer_id)]
                  for sensor in self.catalogue.sensors}
        for meter_clock, clock in zip(self.clocks, self.sensor_clocks):
            frequency = self.conf.frequency_hz + np.random.default_rng([self.seed, 6, clock.index]).normal(
                0, 0.02, len(clock.ts))
            middles = meter_clock.epoch_s + self.conf.meter_interval_s / 2
            for number, sensor in enumerate(self.catalogue.sensors):
                load = np.zeros(len(meter_clock.ts))
                for transformer_id in served[sensor.sensor_id]:
                    load = load + self._load_kw.get((transformer_id, meter_clock.index), 0.0)
                load_kw = np.interp(clock.epoch_s, middles, load)
                yield from self._sensor_day(sensor, number, clock, load_kw, frequency)

    def _sensor_day(self, sensor: Sensor, number: int, clock: DayClock, load_kw: np.ndarray,
                    frequency: np.ndarray) -> Iterator[dict[str, Any]]:
        """One sensor-day's rows, its sag or swell labelled on every row it touches."""
        rng = np.random.default_rng([self.seed, 20, number, clock.index])
        n = len(clock.ts)
        if sensor.feeder_id is None:
            level = float(rng.normal(0.01, 0.005))
            pu = 1.0 + load_shapes.feeder_voltage_pu(clock.local_hour, level) * 0.5
        else:
            pu = self._feeder_pu(sensor.feeder_id, clock)
        nominal = self.conf.nominal_voltage_v
        voltages = {f"voltage_l{phase}_v": nominal * (pu + rng.normal(0, 0.002, n)) for phase in (1, 2, 3)}
        loading = np.abs(load_kw) / sensor.rating_kva
        ambient = clock.temperature_c
        temperature = ambient + 55.0 * loading ** 2 + rng.normal(0, 0.3, n)
        channels = {
            **voltages,
            "current_a": np.abs(load_kw) * 1000 / (3 * nominal * pu * 0.95),
            "frequency_hz": frequency + rng.normal(0, 0.002, n),
            "transformer_temp_c": temperature,
        }
        ints = {name: np.rint(values * 10 ** SENSOR_SCALE[name]).astype(np.int64) for name, values in channels.items()}
        decimals = {name: self._decimals[("sensor", name)](values.tolist()) for name, values in ints.items()}
        if sensor.sensor_type == "feeder":
            decimals["transformer_temp_c"] = [None] * n  # a feeder head has no transformer
        prefix = f"seed:{self.seed}:{sensor.sensor_id}:{clock.day.isoformat()}"
        interval = timedelta(seconds=self.conf.sensor_interval_s)
        names = list(decimals)
        rows = []
        for k, values in enumerate(zip(*decimals.values())):
            row = {"sensor_id": sensor.sensor_id, "day": clock.day, "ts": clock.ts[k], "ingest_id": f"{prefix}:{k}",
                   "interval_s": self.conf.sensor_interval_s, "source": SOURCE,
                   "received_at": clock.ts[k] + interval + DELIVERY_DELAY}
            row.update(zip(names, values))
            rows.append(row)
        event = self.events.get((sensor.feeder_id, clock.index)) if sensor.feeder_id else None
        if event is not None:
            for k in np.flatnonzero(event.covers(clock.epoch_s)):
                self._label(clock, sensor.sensor_id, "sensor", rows[k], clock.ts[k], event.kind, "voltage_l1_v", None,
                            ints["voltage_l1_v"][k], held_back=False, places=1)
        yield from rows


def synthetic_grid(conf: GridConf, meters: int, days: int, start: date, seed: int = 0, fault_rate: float = 0.01,
                   late_rows: LateRows = "hold") -> SyntheticGrid:
    """The synthetic grid of ``meters`` meters over ``days`` local days from ``start``: pure,
    no I/O; the same arguments give the same rows."""
    if meters < 1 or days < 1:
        raise ValueError("meters and days must be at least 1")
    if not 0 <= fault_rate <= 1:
        raise ValueError(f"fault_rate must be within 0..1, got {fault_rate}")
    zone = ZoneInfo(conf.timezone)
    dates = [start + timedelta(days=i) for i in range(days)]
    clocks = [day_clock(day, i, zone, conf.meter_interval_s) for i, day in enumerate(dates)]
    sensor_clocks = [day_clock(day, i, zone, conf.sensor_interval_s) for i, day in enumerate(dates)]
    catalogue = build_grid(conf, meters, start, days, seed)
    return SyntheticGrid(
        conf=conf, catalogue=catalogue, clocks=clocks, sensor_clocks=sensor_clocks, seed=seed,
        faults=plan_faults(catalogue, clocks, fault_rate, seed),
        events=plan_voltage_events(catalogue.feeder_ids, clocks, conf.sag_swell_rate, seed),
        late_rows=late_rows,
    )


def _insert_all(session: Session, keyspace: str, table: Table, rows: list[dict[str, Any]], concurrency: int) -> None:
    columns = list(table.columns)
    statement = session.prepare(f"INSERT INTO {keyspace}.{table.name} ({', '.join(columns)}) "
                                f"VALUES ({', '.join('?' for _ in columns)})")
    execute_concurrent_with_args(session, statement, [tuple(row.get(c) for c in columns) for row in rows],
                                 concurrency=concurrency, raise_on_first_error=True, execution_profile=WRITES)


def catalogue_rows(grid: SyntheticGrid) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``meters`` and ``sensors`` rows of the catalogue."""
    conf = grid.conf
    meters = [{**{name: getattr(m, name) for name in METERS.columns if hasattr(m, name)},
               "nominal_voltage_v": Decimal(str(m.nominal_voltage_v)), "interval_s": conf.meter_interval_s,
               "source": SOURCE} for m in grid.catalogue.meters]
    sensors = [{**{name: getattr(s, name) for name in SENSORS.columns if hasattr(s, name)},
                "nominal_voltage_v": Decimal(str(s.nominal_voltage_v)), "interval_s": conf.sensor_interval_s,
                "active_from": grid.clocks[0].day - timedelta(days=365), "active_to": None, "source": SOURCE}
               for s in grid.catalogue.sensors]
    return meters, sensors


def ground_truth_path(settings: Settings, seed: int) -> Path:
    """Where the Parquet copy of a run's labels goes (see schemas/ground_truth.py)."""
    return settings.state_path / "ground_truth" / settings.cassandra.keyspace / f"seed={seed}" / "fault_labels.parquet"


def write_ground_truth_parquet(labels: list[gt.FaultLabel], path: Path) -> None:
    """The labels as one Parquet file with ground_truth.ARROW_SCHEMA, replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [label.as_row() for label in labels]
    for row in rows:
        row["ts"] = row["ts"].replace(tzinfo=UTC)
        if row["received_at"] is not None:
            row["received_at"] = row["received_at"].replace(tzinfo=UTC)
    staging = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=gt.ARROW_SCHEMA), staging, compression="zstd")
    staging.replace(path)


def main(settings: Settings, meters: int, days: int, start: date, seed: int = 0, fault_rate: float = 0.01,
         on_progress: Callable[[int], None] | None = None, late_rows: LateRows = "hold") -> SeedSummary:
    """Seed keyspace ``settings.cassandra.keyspace`` (already applied) with a synthetic grid.

    ``late_rows="hold"`` writes everything but the late-arriving rows; ``"only"`` (a second
    run with the same arguments) writes just those; ``"include"`` writes all at once.
    ``on_progress(n)`` is called as rows are written. Rerunning is idempotent (same keys).
    """
    began = time.perf_counter()
    grid = synthetic_grid(settings.grid, meters, days, start, seed, fault_rate, late_rows)
    keyspace = settings.cassandra.keyspace
    concurrency = settings.cassandra.write_concurrency
    log.info("stage=seed event=start keyspace=%s meters=%d days=%d start=%s seed=%d fault_rate=%s late_rows=%s",
             keyspace, meters, days, start, seed, fault_rate, late_rows)
    with cassandra_session(settings) as session:
        sensor_rows = 0
        path = None
        if late_rows != "only":
            meter_catalogue, sensor_catalogue = catalogue_rows(grid)
            _insert_all(session, keyspace, METERS, meter_catalogue, concurrency)
            _insert_all(session, keyspace, SENSORS, sensor_catalogue, concurrency)
        meter_report = write_readings(session, keyspace, METER_READINGS, METER_DAYS, grid.meter_rows(),
                                      concurrency=concurrency, on_progress=on_progress)
        if late_rows != "only":
            sensor_rows = write_readings(session, keyspace, SENSOR_READINGS, SENSOR_DAYS, grid.sensor_rows(),
                                         concurrency=concurrency, on_progress=on_progress).rows
            _insert_all(session, keyspace, FAULT_LABELS, [label.as_row() for label in grid.labels], concurrency)
            path = ground_truth_path(settings, seed)
            write_ground_truth_parquet(grid.labels, path)
    kinds: dict[str, int] = {}
    for label in grid.labels:
        kinds[label.fault_kind] = kinds.get(label.fault_kind, 0) + 1
    summary = SeedSummary(meters=len(grid.catalogue.meters), sensors=len(grid.catalogue.sensors),
                          meter_rows=meter_report.rows, sensor_rows=sensor_rows, held_back_rows=grid.held_back_rows,
                          labels=len(grid.labels), faults=kinds, seconds=time.perf_counter() - began,
                          ground_truth_path=path)
    log.info("stage=seed event=done keyspace=%s meter_rows=%d sensor_rows=%d held_back_rows=%d labels=%d "
             "seconds=%.1f rows_per_s=%.0f", keyspace, summary.meter_rows, summary.sensor_rows,
             summary.held_back_rows, summary.labels, summary.seconds, summary.rows_per_s)
    return summary
