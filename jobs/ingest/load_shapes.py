"""Load, solar and voltage shapes of the synthetic grid, as pure numpy functions.

Everything is a function of the local clock hour (a float per interval) and the day, so one
meter-day is a handful of vector operations. Shapes are in kW (average power over the
interval); the generator turns them into kWh per interval.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

#: Hours at which the class's demand bumps peak: (hour, width h, height kW) on a weekday.
_PEAKS = {
    "residential": ((7.5, 1.2, 0.9), (13.0, 1.5, 0.35), (20.0, 2.0, 1.6)),
    "prosumer": ((7.5, 1.2, 0.9), (13.0, 1.5, 0.35), (20.0, 2.0, 1.6)),
    "commercial": ((10.0, 2.5, 7.0), (15.0, 2.5, 6.0)),
    "industrial": ((9.0, 3.0, 60.0), (15.0, 3.0, 55.0)),
    "ev_charging": ((9.0, 1.5, 6.0), (19.5, 2.0, 18.0)),
}
_BASE_KW = {"residential": 0.25, "prosumer": 0.25, "commercial": 1.5, "industrial": 35.0, "ev_charging": 0.4}
#: Weekend factor per class: offices close, households stay home.
_WEEKEND = {"residential": 1.15, "prosumer": 1.15, "commercial": 0.35, "industrial": 0.45, "ev_charging": 1.1}
#: kW per degree below 16 C (heating) and above 22 C (air conditioning), as a share of base.
_HEATING, _COOLING = 0.06, 0.08
#: Typical power factor per class (motors draw more reactive power than households).
POWER_FACTOR = {"residential": 0.96, "prosumer": 0.96, "commercial": 0.93, "industrial": 0.86, "ev_charging": 0.98}
LATITUDE_DEG = 41.33


def temperature_c(day: date, local_hour: np.ndarray) -> np.ndarray:
    """Outdoor temperature in Tirana's climate: coldest late January (~6 C), warmest late
    July (~25 C), warmest at 15:00 and coolest at 03:00."""
    season = 15.5 - 9.5 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365.25)
    return season + 5.0 * np.sin(2 * np.pi * (local_hour - 9.0) / 24.0)


def demand_kw(meter_class: str, local_hour: np.ndarray, weekend: bool, temperature: np.ndarray) -> np.ndarray:
    """The class's expected demand in kW at each local hour, before the meter's size and noise."""
    shape = np.full_like(local_hour, _BASE_KW[meter_class])
    for peak_hour, width, height in _PEAKS[meter_class]:
        shape += height * np.exp(-0.5 * ((local_hour - peak_hour) / width) ** 2)
    if weekend:
        shape *= _WEEKEND[meter_class]
    climate = 1.0 + _HEATING * np.maximum(0.0, 16.0 - temperature) + _COOLING * np.maximum(0.0, temperature - 22.0)
    return shape * climate


def solar_kw(pv_kwp: float, day: date, utc_hour: np.ndarray, clearness: float, lon_deg: float) -> np.ndarray:
    """Photovoltaic output: a sine between sunrise and sunset around solar noon (UTC, from the
    longitude, so DST does not move it), whose day length follows the season at Tirana's
    latitude, scaled by the day's clearness (0 overcast .. 1 clear)."""
    declination = 23.44 * math.sin(2 * math.pi * (284 + day.timetuple().tm_yday) / 365.0)
    cos_hour_angle = -math.tan(math.radians(LATITUDE_DEG)) * math.tan(math.radians(declination))
    day_length_h = 2 * math.degrees(math.acos(max(-1.0, min(1.0, cos_hour_angle)))) / 15.0
    solar_noon_utc = 12.0 - lon_deg / 15.0
    position = (utc_hour - (solar_noon_utc - day_length_h / 2)) / day_length_h
    elevation = np.where((position > 0) & (position < 1), np.sin(np.pi * np.clip(position, 0, 1)), 0.0)
    summer = 0.75 + 0.25 * math.sin(math.radians(90 + declination * 3))
    return pv_kwp * 0.8 * summer * clearness * elevation ** 1.3


def feeder_voltage_pu(local_hour: np.ndarray, day_level_pu: float) -> np.ndarray:
    """The feeder's per-unit voltage deviation: lower at the evening peak, higher at night."""
    return day_level_pu - 0.018 * np.exp(-0.5 * ((local_hour - 20.0) / 2.5) ** 2) + 0.008 * np.cos(
        2 * np.pi * (local_hour - 4.0) / 24.0)
