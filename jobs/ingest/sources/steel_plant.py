"""Steel plant: one industrial customer in South Korea, 15-minute energy, reactive energy, power factor.

Columns used:
- ``date`` (``DD/MM/YYYY HH:MM``) is the END of the 15-minute interval, so a reading starts
  15 minutes earlier. The row stamped ``00:00`` of a date comes after ``23:45`` of that same
  date and closes it (it means 24:00, ``NSM`` = 0): it is the interval 23:45-24:00 of that
  date, not of the day before. Local day = the date of the interval start.
- ``Usage_kWh`` -> ``kwh_import``.
- ``Lagging_Current_Reactive_Power_kVarh`` and ``Leading_Current_Reactive_Power_kVarh``: the
  plant registers reactive energy on both sides (inductive, quadrant I, and capacitive,
  quadrant IV), sometimes both within one interval. The data model has one ``kvarh``
  channel, so it holds the NET reactive energy ``lagging - leading``: positive when the
  load was inductive, negative when capacitive (the IEC sign of Q for an importing site).
  The split between the two sides inside one interval does not fit one column; adding a
  ``kvarh_leading`` channel to schemas/ would keep it (the raw file keeps it meanwhile).
- ``Lagging_Current_Power_Factor`` and ``Leading_Current_Power_Factor`` (%): each is
  ``kWh / sqrt(kWh^2 + kvarh^2)`` of its own side (the file agrees within 0.005 %), so they
  carry nothing beyond the energies. ``power_factor`` is the one of the side that dominates
  the interval (lagging on a tie), as a fraction at the model's 0.001 resolution; the sign
  of ``kvarh`` tells which side it is.
The clock defaults to Asia/Seoul (no DST since 1988, 96 readings every day). The other
columns (CO2, NSM, week status, load type) are derived or labels and are not loaded. The
meter is ``steel-plant-1``, class industrial.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from jobs.ingest.sources.common import (
    Clock,
    CsvRow,
    LocalTimeFormat,
    MeterInfo,
    ParsedFile,
    Reading,
    Source,
    milli,
    parse_number,
    place,
    reject_if_empty,
)

END = "date"
ENERGY = "Usage_kWh"
LAGGING_KVARH = "Lagging_Current_Reactive_Power_kVarh"
LEADING_KVARH = "Leading_Current_Reactive_Power_kVarh"
LAGGING_PF = "Lagging_Current_Power_Factor"
LEADING_PF = "Leading_Current_Power_Factor"
METER_ID = "steel-plant-1"
INTERVAL = timedelta(minutes=15)

_LOCAL_TIME = LocalTimeFormat(
    re.compile(r"(?P<day>\d{2})/(?P<month>\d{2})/(?P<year>\d{4}) (?P<hour>\d{2}):(?P<minute>\d{2})"),
    "DD/MM/YYYY HH:MM",
)
_PERCENT = Decimal(100)
#: The plant's connection in kW: its measured peak is 629 kW (157.18 kWh in 15 minutes, 2018); the
#: source gives no rating, so a 1 MVA service at a power factor near 1 is assumed. An
#: industrial class default (vee.connection_kw, 250 kW) would call thousands of its readings impossible.
CAPACITY_KW = 1_000.0
_METER = MeterInfo(METER_ID, "industrial", "Steel plant, South Korea (UCI Machine Learning Repository, "
                   "'Steel Industry Energy Consumption', V E Sathishkumar, C Shin, Y Cho, CC BY 4.0)", CAPACITY_KW)


def interval_start(local_end: datetime) -> datetime:
    """The local start of the interval that ends at ``local_end``; a ``00:00`` stamp means 24:00 of its date."""
    if local_end.hour == 0 and local_end.minute == 0:
        return local_end + timedelta(days=1) - INTERVAL
    return local_end - INTERVAL


def parse_row(row: CsvRow, parsed: ParsedFile, clock: Clock) -> None:
    """One 15-minute interval of the plant: a reading, or a reject if a cell is empty or the time cannot be placed."""
    local_end = _LOCAL_TIME.parse(row.cells[END], parsed.file, row.line, END)
    value = {column: parse_number(row.cells[column], parsed.file, row.line, column) for column in SOURCE.columns[1:]}
    if reject_if_empty(row, parsed, SOURCE.columns, readings=1):
        return
    local_start = interval_start(local_end)
    ts = place(row, parsed, clock, local_start, readings=1)
    if ts is None:
        return
    lagging_dominates = value[LAGGING_KVARH] >= value[LEADING_KVARH]
    power_factor = value[LAGGING_PF] if lagging_dominates else value[LEADING_PF]
    parsed.meters[METER_ID] = _METER
    parsed.readings.append(Reading(METER_ID, local_start.date(), ts, row.line, milli(value[ENERGY]),
                                   kvarh=milli(value[LAGGING_KVARH] - value[LEADING_KVARH]),
                                   power_factor=milli(power_factor / _PERCENT)))


SOURCE = Source(
    name="steel",
    default_file="steel_plant_15min.csv.gz",
    default_tz="Asia/Seoul",
    interval_s=int(INTERVAL.total_seconds()),
    columns=(END, ENERGY, LAGGING_KVARH, LEADING_KVARH, LAGGING_PF, LEADING_PF),
    parse_row=parse_row,
)
