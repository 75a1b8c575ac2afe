"""SGSC households: Ausgrid's Smart Grid Smart City trial, half-hourly smart-meter energy.

Columns ``customer_id`` (integer household id), ``reading_datetime`` (``YYYY-MM-DD HH:MM:SS``,
the START of the half-hour, local clock without offset) and ``general_supply_kwh`` (energy
drawn in the half-hour, kWh, loaded as ``kwh_import`` exactly). The clock defaults to fixed
+10:00 (AEST): every day of the file has 48 readings, 02:00 and 02:30 of spring-forward days
included, so it is not Sydney wall-clock time. Meters are ``sgsc-<customer_id>``, class
residential.
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
    bad_value,
    milli,
    parse_number,
    place,
    reject_if_empty,
)

CUSTOMER = "customer_id"
START = "reading_datetime"
ENERGY = "general_supply_kwh"

_LOCAL_TIME = LocalTimeFormat(
    re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2}) (?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"),
    "YYYY-MM-DD HH:MM:SS",
)
_ADDRESS = ("SGSC household {customer}, New South Wales, Australia (Ausgrid Smart Grid Smart City customer trial, "
            "data.gov.au, CC BY 3.0 AU)")


def parse_row(row: CsvRow, parsed: ParsedFile, clock: Clock) -> None:
    """One half-hour of one household: a reading, or a reject if a cell is empty or the time cannot be placed."""
    customer = row.cells[CUSTOMER].strip()
    if customer and not customer.isdigit():
        raise bad_value(parsed.file, row.line, CUSTOMER, f"{customer!r} is not an integer household id")
    local_start = _LOCAL_TIME.parse(row.cells[START], parsed.file, row.line, START)
    kwh = parse_number(row.cells[ENERGY], parsed.file, row.line, ENERGY)
    if reject_if_empty(row, parsed, SOURCE.columns, readings=1):
        return
    ts = place(row, parsed, clock, local_start, readings=1)
    if ts is None:
        return
    meter_id = f"sgsc-{customer}"
    if meter_id not in parsed.meters:
        parsed.meters[meter_id] = MeterInfo(meter_id, "residential", _ADDRESS.format(customer=customer))
    parsed.readings.append(Reading(meter_id, local_start.date(), ts, row.line, milli(kwh)))


SOURCE = Source(
    name="sgsc",
    default_file="sgsc_households_halfhourly.csv.gz",
    default_tz="+10:00",
    interval_s=1800,
    columns=(CUSTOMER, START, ENERGY),
    parse_row=parse_row,
)
