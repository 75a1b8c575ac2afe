"""Local dates as jobs take them: one date or an inclusive range, always in order."""

from __future__ import annotations

from datetime import date, timedelta


def date_range(start: date, end: date | None = None) -> list[date]:
    """Every date from ``start`` to ``end`` inclusive (just ``start`` without an end)."""
    end = end or start
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
