"""The synthetic grid's catalogue: regions, substations, feeders, transformers, meters, sensors.

The grid is laid out on a street grid around the configured city centre (default Tirana):
each distribution transformer sits on a street corner, its meters along the street from it,
transformers group into feeders, feeders into substations, substations into regions. Every
choice comes from one numpy Generator seeded with the run's seed, so the same seed builds
the same grid. Sensors are power-quality monitors on the low-voltage side of every
transformer, at every feeder head and on every substation busbar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from jobs.runtime.config import GridConf

METER_CLASSES = ("residential", "commercial", "industrial", "prosumer", "ev_charging")
CLASS_SHARES = (0.70, 0.12, 0.04, 0.09, 0.05)
#: Connection capacity per class in kW: a reading above capacity x interval cannot be real.
CONNECTION_KW = {"residential": 11.0, "commercial": 44.0, "industrial": 250.0, "prosumer": 11.0,
                 "ev_charging": 50.0}
#: Three-phase connections (the others are single-phase).
THREE_PHASE = {"commercial", "industrial", "ev_charging"}
TARIFFS = {
    "residential": ("residential_flat", "residential_day_night"),
    "commercial": ("commercial_tou",),
    "industrial": ("industrial_mv",),
    "prosumer": ("prosumer_net_metering",),
    "ev_charging": ("ev_charging_tou",),
}
REGIONS = ("Tirana Qendër", "Tirana Veri", "Tirana Jug", "Tirana Lindje", "Tirana Perëndim", "Kashar", "Farkë",
           "Dajt")
#: Real Tirana street names: east-west streets, then north-south ones.
STREETS_EW = ("Rruga e Kavajës", "Rruga e Durrësit", "Rruga Myslym Shyri", "Rruga Sami Frashëri",
              "Rruga e Elbasanit", "Rruga e Barrikadave", "Rruga Muhamet Gjollesha", "Rruga Ismail Qemali",
              "Rruga Siri Kodra", "Rruga Hoxha Tahsim", "Rruga Frosina Plaku", "Rruga Pjetër Bogdani")
STREETS_NS = ("Bulevardi Dëshmorët e Kombit", "Bulevardi Zogu I", "Rruga Don Bosko", "Rruga Bardhyl",
              "Rruga Asim Vokshi", "Rruga Qemal Stafa", "Rruga Reshit Çollaku", "Rruga Abdyl Frashëri",
              "Rruga Ibrahim Rugova", "Rruga Dibrës", "Rruga Medar Shtylla", "Rruga Gjergj Fishta")
METRES_PER_DEGREE_LAT = 111_320.0


@dataclass(frozen=True)
class Meter:
    """A meter of the catalogue; ``active_to`` is its last day with readings (inclusive)."""

    meter_id: str
    index: int
    meter_class: str
    tariff: str
    address: str
    lat: float
    lon: float
    transformer_id: str
    feeder_id: str
    substation_id: str
    region: str
    timezone: str
    nominal_voltage_v: float
    active_from: date
    active_to: date | None
    #: Scales the class load shape (a big household against a small one).
    size: float
    #: Installed solar peak power (prosumers only).
    pv_kwp: float
    #: Steady voltage offset from the transformer (distance along the street), per unit.
    voltage_offset_pu: float

    def active_on(self, day: date) -> bool:
        """Whether the meter is installed and reporting on local day ``day``."""
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


@dataclass(frozen=True)
class Sensor:
    """A power-quality monitor on a transformer, a feeder head or a substation busbar."""

    sensor_id: str
    sensor_type: str  # transformer | feeder | substation
    description: str
    lat: float
    lon: float
    transformer_id: str | None
    feeder_id: str | None  # None on a substation busbar: it serves several feeders
    substation_id: str
    region: str
    timezone: str
    nominal_voltage_v: float
    rating_kva: float


@dataclass(frozen=True)
class GridCatalogue:
    """The whole synthetic grid."""

    meters: tuple[Meter, ...]
    sensors: tuple[Sensor, ...]

    def meters_of_feeder(self, feeder_id: str) -> list[Meter]:
        return [meter for meter in self.meters if meter.feeder_id == feeder_id]

    @property
    def feeder_ids(self) -> list[str]:
        return sorted({meter.feeder_id for meter in self.meters})


def _lat_lon(conf: GridConf, east_m: float, north_m: float) -> tuple[float, float]:
    lat = conf.centre_lat + north_m / METRES_PER_DEGREE_LAT
    lon = conf.centre_lon + east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(conf.centre_lat)))
    return round(lat, 6), round(lon, 6)


def _spiral(count: int) -> list[tuple[int, int]]:
    """Street corners in a square spiral out from the centre, so a small grid stays central."""
    corners, x, y, dx, dy = [], 0, 0, 0, -1
    while len(corners) < count:
        corners.append((x, y))
        if x == y or (x < 0 and x == -y) or (x > 0 and x == 1 - y):
            dx, dy = -dy, dx
        x, y = x + dx, y + dy
    return corners


def _active_dates(rng: np.random.Generator, conf: GridConf, start: date, days: int) -> tuple[date, date | None]:
    """Most meters were installed years ago and still report; a few start or end in range."""
    installed = start - timedelta(days=int(rng.integers(30, 3000)))
    draw = rng.random()
    if days >= 2 and draw < conf.meter_churn:
        return start + timedelta(days=int(rng.integers(1, days))), None
    if days >= 2 and draw < 2 * conf.meter_churn:
        return installed, start + timedelta(days=int(rng.integers(0, days - 1)))
    return installed, None


def build_grid(conf: GridConf, meters: int, start: date, days: int, seed: int) -> GridCatalogue:
    """The catalogue of ``meters`` meters and their grid, the same for the same arguments."""
    rng = np.random.default_rng([seed, 0])
    transformers = math.ceil(meters / conf.meters_per_transformer)
    corners = _spiral(transformers)
    spacing = conf.street_spacing_m
    meter_list: list[Meter] = []
    sensors: list[Sensor] = []
    classes = rng.choice(len(METER_CLASSES), size=meters, p=CLASS_SHARES)
    for t, (gx, gy) in enumerate(corners):
        feeder_no = t // conf.transformers_per_feeder
        substation_no = feeder_no // conf.feeders_per_substation
        region = REGIONS[(substation_no // conf.substations_per_region) % len(REGIONS)]
        transformer_id = f"TX-{t + 1:05d}"
        feeder_id = f"FDR-{feeder_no + 1:04d}"
        substation_id = f"SS-{substation_no + 1:03d}"
        tx_lat, tx_lon = _lat_lon(conf, gx * spacing, gy * spacing)
        street = STREETS_EW[gy % len(STREETS_EW)]
        first = t * conf.meters_per_transformer
        for index in range(first, min(first + conf.meters_per_transformer, meters)):
            meter_class = METER_CLASSES[classes[index]]
            along_m = float(rng.uniform(5, spacing * 0.9))
            lat, lon = _lat_lon(conf, gx * spacing + along_m, gy * spacing + float(rng.uniform(-8, 8)))
            house = 2 * int(along_m // 6) + 1 + (index % 2)
            active_from, active_to = _active_dates(rng, conf, start, days)
            meter_list.append(Meter(
                meter_id=f"MTR-{index + 1:07d}", index=index, meter_class=meter_class,
                tariff=TARIFFS[meter_class][int(rng.integers(len(TARIFFS[meter_class])))],
                address=f"{street} {house}, {1001 + (gx + gy) % 60}, Tiranë",
                lat=lat, lon=lon, transformer_id=transformer_id, feeder_id=feeder_id,
                substation_id=substation_id, region=region, timezone=conf.timezone,
                nominal_voltage_v=conf.nominal_voltage_v, active_from=active_from, active_to=active_to,
                size=float(rng.lognormal(0.0, 0.3)),
                pv_kwp=float(rng.uniform(3, 8)) if meter_class == "prosumer" else 0.0,
                voltage_offset_pu=float(np.clip(-0.02 * along_m / spacing + rng.normal(0, 0.004), -0.025, 0.005)),
            ))
        served = min(first + conf.meters_per_transformer, meters) - first
        sensors.append(Sensor(
            sensor_id=f"PQ-{transformer_id}", sensor_type="transformer",
            description=f"LV monitor, transformer {transformer_id} at {street} / {STREETS_NS[gx % len(STREETS_NS)]}",
            lat=tx_lat, lon=tx_lon, transformer_id=transformer_id, feeder_id=feeder_id,
            substation_id=substation_id, region=region, timezone=conf.timezone,
            nominal_voltage_v=conf.nominal_voltage_v, rating_kva=max(100.0, 250.0 * math.ceil(served * 4 / 250)),
        ))
        if t % conf.transformers_per_feeder == 0:
            sensors.append(Sensor(
                sensor_id=f"PQ-{feeder_id}", sensor_type="feeder", description=f"feeder head monitor, {feeder_id}",
                lat=tx_lat, lon=tx_lon, transformer_id=None, feeder_id=feeder_id, substation_id=substation_id,
                region=region, timezone=conf.timezone, nominal_voltage_v=conf.nominal_voltage_v,
                rating_kva=1600.0,
            ))
        if t % (conf.transformers_per_feeder * conf.feeders_per_substation) == 0:
            sensors.append(Sensor(
                sensor_id=f"PQ-{substation_id}", sensor_type="substation",
                description=f"busbar monitor, substation {substation_id}", lat=tx_lat, lon=tx_lon,
                transformer_id=None, feeder_id=None, substation_id=substation_id, region=region,
                timezone=conf.timezone, nominal_voltage_v=conf.nominal_voltage_v, rating_kva=6400.0,
            ))
    return GridCatalogue(meters=tuple(meter_list), sensors=tuple(sensors))
