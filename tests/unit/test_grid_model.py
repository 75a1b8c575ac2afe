"""The synthetic grid's catalogue: deterministic, hierarchical, around the city centre."""

import math
from collections import Counter
from datetime import date

from jobs.runtime.config import GridConf
from jobs.ingest.grid_model import METER_CLASSES, STREETS_EW, build_grid

START = date(2024, 5, 6)


def _km_from_centre(conf: GridConf, lat: float, lon: float) -> float:
    dlat, dlon = math.radians(lat - conf.centre_lat), math.radians(lon - conf.centre_lon)
    a = math.sin(dlat / 2) ** 2 + math.cos(math.radians(lat)) * math.cos(math.radians(conf.centre_lat)) * math.sin(
        dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_same_seed_same_grid_other_seed_other_grid() -> None:
    conf = GridConf()
    assert build_grid(conf, 300, START, 5, seed=7) == build_grid(conf, 300, START, 5, seed=7)
    assert build_grid(conf, 300, START, 5, seed=7) != build_grid(conf, 300, START, 5, seed=8)


def test_meters_lie_on_a_street_grid_near_the_centre_of_tirana() -> None:
    conf = GridConf()
    grid = build_grid(conf, 2000, START, 5, seed=1)
    # 50 transformers on a spiral of 110 m streets: within about 4 corners (< 1.5 km) of the centre.
    assert max(_km_from_centre(conf, m.lat, m.lon) for m in grid.meters) < 1.5
    assert all(m.address.split(",")[0].rsplit(" ", 1)[0] in STREETS_EW for m in grid.meters)
    assert all(m.address.endswith(", Tiranë") for m in grid.meters)
    assert {m.timezone for m in grid.meters} == {"Europe/Tirane"}
    assert {m.nominal_voltage_v for m in grid.meters} == {230.0}


def test_hierarchy_and_sensors() -> None:
    conf = GridConf(meters_per_transformer=10, transformers_per_feeder=3, feeders_per_substation=2)
    grid = build_grid(conf, 95, START, 5, seed=1)
    # 95 meters -> 10 transformers -> 4 feeders (3+3+3+1) -> 2 substations.
    per_transformer = Counter(m.transformer_id for m in grid.meters)
    assert len(per_transformer) == 10 and max(per_transformer.values()) == 10 and min(per_transformer.values()) == 5
    feeders_of_transformer = {(m.transformer_id, m.feeder_id) for m in grid.meters}
    assert len(feeders_of_transformer) == 10  # each transformer on exactly one feeder
    assert len({m.feeder_id for m in grid.meters}) == 4
    assert len({m.substation_id for m in grid.meters}) == 2
    assert Counter(s.sensor_type for s in grid.sensors) == {"transformer": 10, "feeder": 4, "substation": 2}
    assert len({m.meter_id for m in grid.meters}) == 95


def test_every_class_and_some_meters_start_or_end_inside_the_range() -> None:
    grid = build_grid(GridConf(), 1000, START, 10, seed=3)
    classes = Counter(m.meter_class for m in grid.meters)
    assert set(classes) == set(METER_CLASSES)
    assert 600 < classes["residential"] < 800
    assert all(m.pv_kwp > 0 for m in grid.meters if m.meter_class == "prosumer")
    end = date(2024, 5, 15)
    starting = [m for m in grid.meters if START < m.active_from <= end]
    ending = [m for m in grid.meters if m.active_to is not None and START <= m.active_to < end]
    assert starting and ending
    assert all(not m.active_on(START) for m in starting) and all(m.active_on(START) for m in ending)
