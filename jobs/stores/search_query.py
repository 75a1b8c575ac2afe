"""`gridlake search`: turn command-line filters into one structured Elasticsearch query.

Filters become query clauses (geo_distance, term, range, match), never text spliced into a
query string, so no input can change the query's shape. Input is checked first; a bad value
raises SearchInputError with one line naming the option and what is allowed.
"""

from __future__ import annotations

import math

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.search import DEVICE_TYPES


class SearchInputError(ValueError):
    """A search option has a value that cannot be searched for."""


@dataclass(frozen=True)
class SearchRequest:
    """The filters of one search, already checked."""

    near: tuple[float, float] | None = None
    radius: str = "2km"
    device_type: str | None = None
    feeder: str | None = None
    kwh: tuple[float | None, float | None] | None = None
    day: date | None = None
    text: str | None = None
    limit: int = 20


def parse_near(text: str) -> tuple[float, float]:
    """``LAT,LON`` in degrees, within the globe."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise SearchInputError(f"--near {text!r}: expected LAT,LON such as 41.3275,19.8187") from None
    if not -90 <= lat <= 90:
        raise SearchInputError(f"--near {text!r}: latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise SearchInputError(f"--near {text!r}: longitude {lon} is outside -180..180")
    return lat, lon


def parse_radius(text: str) -> str:
    """A positive distance with a unit Elasticsearch knows (m, km)."""
    if not re.fullmatch(r"\d+(\.\d+)?(m|km)", text):
        raise SearchInputError(f"--radius {text!r}: expected a distance such as 500m or 2km")
    return text


def parse_range(text: str, option: str = "--kwh") -> tuple[float | None, float | None]:
    """``MIN..MAX`` with either end open (``50..``, ``..10``); MIN must not exceed MAX."""
    low_text, separator, high_text = text.partition("..")
    try:
        if not separator:
            raise ValueError
        low, high = (float(part) if part.strip() else None for part in (low_text, high_text))
    except ValueError:
        raise SearchInputError(f"{option} {text!r}: expected MIN..MAX such as 50..120, 50.. or ..10") from None
    if any(end is not None and not math.isfinite(end) for end in (low, high)):
        raise SearchInputError(f"{option} {text!r}: both ends must be finite numbers")
    if low is None and high is None:
        raise SearchInputError(f"{option} {text!r}: give at least one end of the range")
    if low is not None and high is not None and low > high:
        raise SearchInputError(f"{option} {text!r}: the minimum {low} is above the maximum {high}")
    return low, high


def parse_type(text: str) -> str:
    if text not in DEVICE_TYPES:
        raise SearchInputError(f"--type {text!r}: unknown type (known: {', '.join(DEVICE_TYPES)})")
    return text


#: facet name -> the keyword field counted (on the ``meters`` alias)
FACETS = {"type": "meter_class", "feeder": "feeder_id", "region": "region", "tariff": "tariff"}


def facet_aggregations(size: int = 20) -> dict[str, Any]:
    """Terms aggregations counting the hits per FACETS field, the ``size`` largest of each."""
    return {name: {"terms": {"field": field, "size": size}} for name, field in FACETS.items()}


def search_query(request: SearchRequest) -> tuple[str, dict[str, Any]]:
    """The alias to search and the query: ``readings-daily`` with a date, else ``meters``."""
    daily = request.day is not None
    kwh_field = "kwh_import" if daily else "latest.kwh_import"
    filters: list[dict[str, Any]] = []
    point = {"lat": request.near[0], "lon": request.near[1]} if request.near is not None else None
    if daily:
        filters.append({"term": {"date": request.day.isoformat()}})
    if point is not None:
        filters.append({"geo_distance": {"distance": request.radius, "location": point}})
    if request.device_type is not None:
        filters.append({"term": {"meter_class": request.device_type}})
    if request.feeder is not None:
        filters.append({"term": {"feeder_id": request.feeder}})
    if request.kwh is not None:
        low, high = request.kwh
        bounds = {**({"gte": low} if low is not None else {}), **({"lte": high} if high is not None else {})}
        filters.append({"range": {kwh_field: bounds}})
    must: list[dict[str, Any]] = []
    if request.text:
        must.append({"match": {"description": {"query": request.text, "operator": "and"}}} if not daily
                    else {"multi_match": {"query": request.text, "fields": ["meter_id", "feeder_id", "region"]}})
    query = {"bool": {"filter": filters, "must": must or [{"match_all": {}}]}}
    body: dict[str, Any] = {"query": query, "size": request.limit}
    if point is not None:
        # Nearest first (after relevance, when there is text to be relevant to); each hit's
        # last sort value is then its distance in metres.
        body["sort"] = [*([{"_score": "desc"}] if must else []),
                        {"_geo_distance": {"location": point, "order": "asc", "unit": "m"}}]
    return ("readings-daily" if daily else "meters"), body
