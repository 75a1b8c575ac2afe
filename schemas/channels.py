"""The channels of a reading and the resolution each is kept at, as decimal types.

One definition for the lake's columns (schemas/lake.py) and for the whole steps Cassandra
stores (schemas/cassandra.py). Plain data, free of Spark and Arrow, so that what imports the
Cassandra model alone (the cache's read side, jobs/stores/cache_read.py) stays light. Energy is kWh
with 3 decimals (Wh), voltage 0.1 V, current 0.01 A, power factor 0.001, frequency 0.01 Hz.
"""

from __future__ import annotations

KWH = "decimal(10,3)"
VOLTS = "decimal(5,1)"
AMPS = "decimal(8,2)"

#: The channels a meter reading carries (all nullable: a meter reports what it measures).
METER_CHANNELS = {
    "kwh_import": KWH,
    "kwh_export": KWH,
    "kvarh": KWH,
    "voltage_v": VOLTS,
    "current_a": AMPS,
    "power_factor": "decimal(4,3)",
}
#: The channels of a grid sensor (power-quality monitor on a transformer, feeder or substation).
SENSOR_CHANNELS = {
    "voltage_l1_v": VOLTS,
    "voltage_l2_v": VOLTS,
    "voltage_l3_v": VOLTS,
    "current_a": AMPS,
    "frequency_hz": "decimal(5,2)",
    "transformer_temp_c": "decimal(4,1)",
}


def decimal_digits(kind: str) -> tuple[int, int] | None:
    """(precision, scale) of a ``decimal(p,s)`` type; None for any other type."""
    if not kind.startswith("decimal("):
        return None
    precision, scale = (int(x) for x in kind[8:-1].split(","))
    return precision, scale
