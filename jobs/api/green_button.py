"""Green Button (NAESB REQ.21 ESPI 1.1) Atom feeds of a meter's published hourly energy.

One feed per meter and date range holds the resources ESPI names, linked by Atom ``self``,
``up`` and ``related`` links as a Green Button client follows them:

- ``UsagePoint`` (electricity), with one ``MeterReading`` of the energy imported;
- ``ReadingType``: delta data of forward energy in Wh (power-of-ten multiplier 0), one hour long;
- one ``IntervalBlock`` per local day with an ``IntervalReading`` per published hour
  (the repeated hour of an autumn DST day is its own reading, an hour later in UTC);
- ``UsageSummary``: the range as one billing period and its total energy.

ESPI counts times in seconds since the epoch (UTC) and values as integers of the unit, so the
published kWh (three decimals) become whole Wh exactly. The feed is built from the published
``meter_hourly`` figures; nothing is computed that the lake has not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
BASE = "/espi/1_1/resource"
HOUR_S = 3600
#: ESPI enumerations used (ReadingType and ServiceCategory): their codes in the standard.
ELECTRICITY = "0"             # ServiceCategory kind
DELTA_DATA = "4"              # accumulationBehaviour
ELECTRICITY_METERED = "1"     # commodity: electricity secondary metered
NORMAL = "12"                 # dataQualifier
FORWARD = "1"                 # flowDirection: energy delivered to the customer
ENERGY = "12"                 # kind
WATT_HOURS = "72"             # uom
VALIDATED = "17"              # qualityOfReading: validated (VEE passed)

ET.register_namespace("", ATOM)
ET.register_namespace("espi", ESPI)


def local_hour_start(day: date, label: str, zone: ZoneInfo) -> datetime:
    """The UTC start of a published local hour: ``"07"``, or ``"02b"`` for the second ``02`` of a
    day the clocks go back."""
    local = datetime(day.year, day.month, day.day, int(label[:2]), tzinfo=zone, fold=1 if label.endswith("b") else 0)
    return local.astimezone(timezone.utc)


def _epoch(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ESPI}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _interval(parent: ET.Element, tag: str, start: datetime, duration_s: int) -> None:
    period = _sub(parent, tag)
    _sub(period, "duration", str(duration_s))
    _sub(period, "start", _epoch(start))


def _entry(feed: ET.Element, title: str, self_href: str, up_href: str, related: Sequence[str], updated: str,
           resource: str) -> ET.Element:
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:gridlake:{self_href}"
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="self", href=self_href)
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="up", href=up_href)
    for href in related:
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=href)
    ET.SubElement(entry, f"{{{ATOM}}}title").text = title
    content = ET.SubElement(entry, f"{{{ATOM}}}content")
    ET.SubElement(entry, f"{{{ATOM}}}published").text = updated
    ET.SubElement(entry, f"{{{ATOM}}}updated").text = updated
    return _sub(content, resource)


def usage_feed(meter_id: str, hours_by_day: Sequence[tuple[date, dict[str, str]]], zone: ZoneInfo,
               updated: datetime) -> bytes:
    """The Atom feed of ``meter_id``'s published hours: ``hours_by_day`` holds, per local day in
    order, the published ``meter_hourly`` fields (local hour -> kWh as text)."""
    stamp = updated.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    usage_point = f"{BASE}/Subscription/{meter_id}/UsagePoint/1"
    meter_reading = f"{usage_point}/MeterReading/1"
    reading_type = f"{BASE}/ReadingType/{meter_id}-energy-import"
    blocks = f"{meter_reading}/IntervalBlock"

    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"urn:gridlake:{usage_point}/feed"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"Green Button data of meter {meter_id}"
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = stamp
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{BASE}/Batch/UsagePoint/{meter_id}")

    point = _entry(feed, meter_id, usage_point, f"{BASE}/Subscription/{meter_id}/UsagePoint",
                   [f"{usage_point}/MeterReading", f"{usage_point}/UsageSummary"], stamp, "UsagePoint")
    _sub(_sub(point, "ServiceCategory"), "kind", ELECTRICITY)
    _entry(feed, "Energy imported, hourly", meter_reading, f"{usage_point}/MeterReading",
           [reading_type, blocks], stamp, "MeterReading")
    kind = _entry(feed, "Energy imported (Wh), hourly delta", reading_type, f"{BASE}/ReadingType", [], stamp,
                  "ReadingType")
    for tag, code in (("accumulationBehaviour", DELTA_DATA), ("commodity", ELECTRICITY_METERED),
                      ("dataQualifier", NORMAL), ("flowDirection", FORWARD), ("intervalLength", str(HOUR_S)),
                      ("kind", ENERGY), ("powerOfTenMultiplier", "0"), ("uom", WATT_HOURS)):
        _sub(kind, tag, code)

    total_wh = 0
    for number, (day, hours) in enumerate(hours_by_day, start=1):
        readings = sorted((local_hour_start(day, label, zone), int(Decimal(kwh) * 1000))
                          for label, kwh in hours.items())
        block = _entry(feed, f"{day.isoformat()}", f"{blocks}/{number}", blocks, [], stamp, "IntervalBlock")
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        _interval(block, "interval", midnight.astimezone(timezone.utc),
                  int((next_midnight - midnight.astimezone(timezone.utc)).total_seconds()))
        for start, wh in readings:
            reading = _sub(block, "IntervalReading")
            _interval(reading, "timePeriod", start, HOUR_S)
            _sub(reading, "value", str(wh))
            total_wh += wh

    if hours_by_day:
        first, last = hours_by_day[0][0], hours_by_day[-1][0]
        start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(timezone.utc)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(timezone.utc)
        summary = _entry(feed, f"{first.isoformat()}..{last.isoformat()}", f"{usage_point}/UsageSummary/1",
                         f"{usage_point}/UsageSummary", [], stamp, "UsageSummary")
        _interval(summary, "billingPeriod", start, int((end - start).total_seconds()))
        consumption = _sub(summary, "overallConsumptionLastPeriod")
        _sub(consumption, "powerOfTenMultiplier", "0")
        _sub(consumption, "timeStamp", _epoch(end))
        _sub(consumption, "uom", WATT_HOURS)
        _sub(consumption, "value", str(total_wh))
        _sub(summary, "qualityOfReading", VALIDATED)
        _sub(summary, "statusTimeStamp", _epoch(updated))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
