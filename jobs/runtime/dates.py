"""Local dates as jobs take them: one date or an inclusive range, always in order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def date_range(start: date, end: date | None = None) -> list[date]:
    """Every date from ``start`` to ``end`` inclusive (just ``start`` without an end)."""
    end = end or start
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def grid_local_date(interval_start: datetime, timezone: str) -> str:
    """The grid's local date (YYYY-MM-DD) of a data interval that starts at local midnight.

    Airflow's ``ds`` is the UTC date, which is the day before for a grid east of UTC; a
    run's date must come from its interval start in the grid's own zone.
    """
    return interval_start.astimezone(ZoneInfo(timezone)).date().isoformat()
