"""The ground truth of the synthetic grid: what `gridlake seed` broke, where, and how.

VEE is graded against this format, so it is fixed here and changes only by adding columns.

One label per (device_id, ts, fault_kind):

- ``day``: the local day (partition of ``meter_readings``/``sensor_readings``) the row is in,
  or would be in for a missing row. ``ts`` is the UTC interval start as written (for a
  ``future_timestamp`` row: the wrong, future stamp).
- ``device_type``: ``meter`` or ``sensor``. ``channel``: the channel the fault is on and that
  the two values refer to; ``kwh_import`` for faults of the whole reading (missing,
  duplicate, late, future, unknown meter, outside active dates).
- ``expected_value``: the channel's true value, what an estimate should come close to;
  ``written_value``: what the faulty row carries (null: no row).
- ``ingest_id``: the faulty row's own ingest id (null when no row was written), so exact and
  conflicting duplicates can be told from their original. ``received_at`` likewise.
- ``held_back``: true for ``late_arrival`` rows. A normal `seed` run does not write them
  (they have not arrived yet: the interval is simply absent when the day is extracted); a
  second run with the same arguments and ``late_rows="only"`` (CLI ``--late-rows only``)
  writes exactly those rows, with ``received_at`` = interval start + ``grid.late_after_days``.
  A run with ``late_rows="include"`` writes everything at once.
- ``seed``: the generator seed.

Where it is written: the Cassandra table ``fault_labels`` (schemas/cassandra.py, partition
= ``day``) in the same keyspace as the readings, and a copy of the run's labels as one Parquet
file, ``<state_dir>/ground_truth/<keyspace>/seed=<seed>/fault_labels.parquet``, with
``ARROW_SCHEMA`` below (decimals at the meter resolution of 3 places).

Rates: ``fault_rate`` is the share of active meter-days that carry one injected fault (at
most one each, so faults never overlap); every kind is injected at least once when the rate is
above zero and the range allows it. Feeder sags and swells are real grid events, not meter
faults, but VEE must flag them SUSPECT, so every reading they touch is labelled too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa

from schemas.cassandra import FAULT_LABELS

# Missing data.
MISSING_INTERVAL = "missing_interval"  # 1-4 consecutive intervals absent
MISSING_DAY = "missing_day"  # every interval of the meter's day absent (and no meter_days row)
# Wrong values on the import channel.
SPIKE = "spike"  # one interval 10x its neighbours, within capacity (residential, prosumer, commercial)
NEGATIVE_IMPORT = "negative_import"  # kwh_import < 0
FROZEN_VALUE = "frozen_value"  # 8-16 intervals repeating one non-zero value
ZERO_STREAK = "zero_streak"  # 8-16 intervals of kwh_import = 0
# Extra rows, each with its own ingest_id beside the original.
DUPLICATE_EXACT = "duplicate_exact"  # same values
DUPLICATE_CONFLICT = "duplicate_conflict"  # different kwh_import
FUTURE_TIMESTAMP = "future_timestamp"  # ts 30-400 days after the row's received_at (clock ahead)
# Arrival and identity.
LATE_ARRIVAL = "late_arrival"  # received grid.late_after_days after the interval (held back)
UNKNOWN_METER = "unknown_meter"  # a whole day from a meter id the catalogue does not know
OUTSIDE_ACTIVE_DATES = "outside_active_dates"  # a whole day before active_from / after active_to
# Physics.
VOLTAGE_OUT_OF_RANGE = "voltage_out_of_range"  # one meter outside nominal +-10% (local fault)
IMPOSSIBLE_VALUE = "impossible_value"  # kWh beyond the connection's capacity, or power factor > 1
# Grid events (not meter faults): every meter and the feeder's sensors see them.
VOLTAGE_SAG = "voltage_sag"  # below nominal -10%
VOLTAGE_SWELL = "voltage_swell"  # above nominal +10%

#: The faults injected at ``fault_rate``, in the order the first ones are dealt out.
INJECTED_KINDS: tuple[str, ...] = (
    MISSING_INTERVAL, MISSING_DAY, SPIKE, NEGATIVE_IMPORT, FROZEN_VALUE, ZERO_STREAK,
    DUPLICATE_EXACT, DUPLICATE_CONFLICT, FUTURE_TIMESTAMP, LATE_ARRIVAL, UNKNOWN_METER,
    OUTSIDE_ACTIVE_DATES, VOLTAGE_OUT_OF_RANGE, IMPOSSIBLE_VALUE,
)
GRID_EVENT_KINDS: tuple[str, ...] = (VOLTAGE_SAG, VOLTAGE_SWELL)

ARROW_SCHEMA = pa.schema([
    pa.field("day", pa.date32(), nullable=False),
    pa.field("device_id", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("fault_kind", pa.string(), nullable=False),
    pa.field("device_type", pa.string(), nullable=False),
    pa.field("channel", pa.string()),
    pa.field("expected_value", pa.decimal128(12, 3)),
    pa.field("written_value", pa.decimal128(12, 3)),
    pa.field("ingest_id", pa.string()),
    pa.field("received_at", pa.timestamp("ms", tz="UTC")),
    pa.field("held_back", pa.bool_(), nullable=False),
    pa.field("seed", pa.int32(), nullable=False),
])
assert ARROW_SCHEMA.names == list(FAULT_LABELS.columns), "the Arrow and CQL ground truth must match"


@dataclass(frozen=True)
class FaultLabel:
    """One ground-truth record; timestamps are naive UTC, as the readings are."""

    day: date
    device_id: str
    ts: datetime
    fault_kind: str
    device_type: str
    channel: str | None
    expected_value: Decimal | None
    written_value: Decimal | None
    ingest_id: str | None
    received_at: datetime | None
    held_back: bool
    seed: int

    def as_row(self) -> dict[str, object]:
        """The label as a dict by column name, in FAULT_LABELS' column order."""
        return asdict(self)
