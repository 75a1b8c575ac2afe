"""Tetouan zones: power drawn by three distribution zones (feeder level) of Tetouan, Morocco.

Columns ``DateTime`` (``M/D/YYYY H:MM``, month and day first, not zero-padded in part of
the file) and one ``Zone <n> Power Consumption`` column per zone (zones 2 and 3 are spelt
with two spaces before ``Power``). Each line is three readings, one per zone meter
``tetouan-zone-<n>``, class feeder.

Assumptions, stated because the source does not:
- ``DateTime`` is the START of the 10-minute interval: every day runs 00:00 .. 23:50.
- The zone values are average power in kW over the interval (values near 10^4 fit a city
  zone in kW, not W or MW), so energy is ``kWh = kW * 600 s / 3600 s``, quantised to Wh
  (multiplied before dividing: a rounded 1/6 moved a reading that ends in half a Wh by one).
- Each zone's supply is rated at its measured peak (52.2, 37.4 and 47.6 MW over 2017) rounded
  up to the next 10 MW (``ZONE_CAPACITY_KW``): the source gives no rating, and a city zone's
  substation is sized above its peak. VEE's impossible-value rule reads it from the catalogue.
The clock defaults to a fixed +00:00: 144 readings every day and no DST jump, although
Morocco changed offset in 2017. The weather columns (temperature, humidity, wind speed)
are not meter channels and are not loaded; they are neither required nor checked.
"""

from __future__ import annotations

import re

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

START = "DateTime"
INTERVAL_S = 600
#: The zone power columns, exactly as the file spells them, and the meter each one is.
ZONE_METERS = {
    "Zone 1 Power Consumption": "tetouan-zone-1",
    "Zone 2  Power Consumption": "tetouan-zone-2",
    "Zone 3  Power Consumption": "tetouan-zone-3",
}

#: What each zone's supply is rated for, in kW (see the assumptions above).
ZONE_CAPACITY_KW = {"tetouan-zone-1": 60_000.0, "tetouan-zone-2": 40_000.0, "tetouan-zone-3": 50_000.0}

_LOCAL_TIME = LocalTimeFormat(
    re.compile(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}) (?P<hour>\d{1,2}):(?P<minute>\d{2})"),
    "MM/DD/YYYY HH:MM",
)
_ADDRESS = ("Tetouan distribution zone {zone}, Morocco (UCI Machine Learning Repository, "
            "'Power consumption of Tetouan city', Salam & El Hibaoui, CC BY 4.0)")


def parse_row(row: CsvRow, parsed: ParsedFile, clock: Clock) -> None:
    """One 10-minute interval of the three zones: three readings, or the line as a reject."""
    local_start = _LOCAL_TIME.parse(row.cells[START], parsed.file, row.line, START)
    power_kw = {column: parse_number(row.cells[column], parsed.file, row.line, column) for column in ZONE_METERS}
    if reject_if_empty(row, parsed, SOURCE.columns, readings=len(ZONE_METERS)):
        return
    ts = place(row, parsed, clock, local_start, readings=len(ZONE_METERS))
    if ts is None:
        return
    for column, meter_id in ZONE_METERS.items():
        if meter_id not in parsed.meters:
            zone = meter_id.rsplit("-", 1)[1]
            parsed.meters[meter_id] = MeterInfo(meter_id, "feeder", _ADDRESS.format(zone=zone),
                                                ZONE_CAPACITY_KW[meter_id])
        parsed.readings.append(Reading(meter_id, local_start.date(), ts, row.line,
                                       milli(power_kw[column] * INTERVAL_S / 3600)))


SOURCE = Source(
    name="tetouan",
    default_file="tetouan_zones_10min.csv.gz",
    default_tz="+00:00",
    interval_s=INTERVAL_S,
    columns=(START, *ZONE_METERS),
    parse_row=parse_row,
)
