"""Search options become a structured query; bad values are refused in one line."""

from datetime import date

import pytest

from jobs.ingest import grid_model
from jobs.stores.search_query import (SearchInputError, SearchRequest, parse_near, parse_radius, parse_range, parse_type,
                               search_query)
from schemas.search import DEVICE_TYPES


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("50..120", (50.0, 120.0), id="both-ends"),
    pytest.param("50..", (50.0, None), id="open-top"),
    pytest.param("..10.5", (None, 10.5), id="open-bottom"),
])
def test_ranges(text: str, expected: tuple) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize(("parse", "text", "message"), [
    pytest.param(parse_near, "91,19.8", r"latitude 91.0 is outside -90..90", id="latitude-out-of-range"),
    pytest.param(parse_near, "41.3,181", r"longitude 181.0 is outside", id="longitude-out-of-range"),
    pytest.param(parse_near, "tirana", r"expected LAT,LON", id="not-coordinates"),
    pytest.param(parse_range, "10-20", r"expected MIN..MAX", id="range-without-dots"),
    pytest.param(parse_range, "20..10", r"minimum 20.0 is above the maximum 10.0", id="range-reversed"),
    pytest.param(parse_range, "a..b", r"expected MIN..MAX", id="range-not-numbers"),
    pytest.param(parse_range, "..", r"at least one end", id="range-empty"),
    pytest.param(parse_range, "nan..", r"both ends must be finite", id="range-nan"),
    pytest.param(parse_range, "1e999..", r"both ends must be finite", id="range-overflowing-to-infinity"),
    pytest.param(parse_range, "..-inf", r"both ends must be finite", id="range-infinite"),
    pytest.param(parse_radius, "2 miles", r"expected a distance", id="radius-unit"),
    pytest.param(parse_type, "windmill", r"unknown type \(known: residential", id="unknown-type"),
])
def test_bad_input_is_named(parse, text: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(SearchInputError, match=message):
        parse(text)


def test_every_generated_meter_class_is_searchable() -> None:
    assert set(grid_model.METER_CLASSES) <= set(DEVICE_TYPES)


def test_filters_become_clauses_not_query_text() -> None:
    request = SearchRequest(near=(41.33, 19.82), radius="2km", device_type="commercial", kwh=(50.0, None),
                            text='Rruga "Myslym Shyri" OR *', limit=5)
    alias, body = search_query(request)
    assert alias == "meters"
    assert body == {"size": 5, "query": {"bool": {
        "filter": [
            {"geo_distance": {"distance": "2km", "location": {"lat": 41.33, "lon": 19.82}}},
            {"term": {"meter_class": "commercial"}},
            {"range": {"latest.kwh_import": {"gte": 50.0}}},
        ],
        "must": [{"match": {"description": {"query": 'Rruga "Myslym Shyri" OR *', "operator": "and"}}}],
    }}, "sort": [
        {"_score": "desc"},
        {"_geo_distance": {"location": {"lat": 41.33, "lon": 19.82}, "order": "asc", "unit": "m"}},
    ]}


def test_a_search_near_a_point_lists_the_nearest_first() -> None:
    _, body = search_query(SearchRequest(near=(41.33, 19.82), radius="1km"))
    assert body["sort"] == [{"_geo_distance": {"location": {"lat": 41.33, "lon": 19.82}, "order": "asc", "unit": "m"}}]
    assert "sort" not in search_query(SearchRequest(device_type="commercial"))[1]


def test_a_date_searches_the_daily_readings() -> None:
    alias, body = search_query(SearchRequest(day=date(2024, 10, 27), feeder="FDR-03", kwh=(None, 10.0)))
    assert alias == "readings-daily"
    assert body["query"]["bool"]["filter"] == [
        {"term": {"date": "2024-10-27"}}, {"term": {"feeder_id": "FDR-03"}},
        {"range": {"kwh_import": {"lte": 10.0}}}]
