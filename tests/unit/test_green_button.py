"""Green Button feeds read back by a Green Button parser from PyPI (greenbutton_objects), with
the interval times computed here from the calendar, independently of the feed's code."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from greenbutton_objects import parse

from jobs.api.green_button import local_hour_start, usage_feed

TIRANA = ZoneInfo("Europe/Tirane")
#: The autumn DST day of 2024 in Tirana: 25 local hours, 02:00-03:00 twice.
AUTUMN = date(2024, 10, 27)
ORDINARY = date(2024, 10, 28)


def published_hours(day: date) -> dict[str, str]:
    """Hours as the publish writes them: ``"HH"`` and, on the autumn day, ``"02b"``."""
    labels = [f"{hour:02d}" for hour in range(24)] + (["02b"] if day == AUTUMN else [])
    return {label: f"{0.1 + index / 1000:.3f}" for index, label in enumerate(labels)}


def parsed(tmp_path: Path, feed: bytes):  # noqa: ANN201 - the parser's UsagePoint
    path = tmp_path / "feed.xml"
    path.write_bytes(feed)
    usage_points = parse.parse_feed(str(path))
    assert len(usage_points) == 1
    return usage_points[0]


def test_the_feed_parses_as_green_button_with_every_published_hour(tmp_path: Path) -> None:
    days = [(AUTUMN, published_hours(AUTUMN)), (ORDINARY, published_hours(ORDINARY))]
    feed = usage_feed("MTR-0000001", days, TIRANA, datetime(2024, 10, 29, tzinfo=timezone.utc))
    point = parsed(tmp_path, feed)
    assert point.title == "MTR-0000001" and point.serviceCategory.name.lower().startswith("electricity")
    (reading,) = point.meterReadings
    assert reading.readingType.uom.name == "wattHours" and reading.readingType.intervalLength == 3600
    readings = sorted(reading.intervalReadings)
    assert len(readings) == 25 + 24
    # The autumn day starts at local midnight, 22:00 UTC the day before (UTC+2 in summer time),
    # and its hours follow each other in UTC without a gap or an overlap.
    first = datetime(2024, 10, 26, 22, tzinfo=timezone.utc)
    assert [r.timePeriod.start.astimezone(timezone.utc) for r in readings] == [
        first + timedelta(hours=n) for n in range(49)]
    expected_wh = sorted(round(float(kwh) * 1000) for _, hours in days for kwh in hours.values())
    assert sorted(r.value for r in readings) == expected_wh


def test_the_repeated_autumn_hour_is_an_hour_after_the_first() -> None:
    first, repeated = local_hour_start(AUTUMN, "02", TIRANA), local_hour_start(AUTUMN, "02b", TIRANA)
    assert (first, repeated) == (datetime(2024, 10, 27, 0, tzinfo=timezone.utc),
                                 datetime(2024, 10, 27, 1, tzinfo=timezone.utc))
