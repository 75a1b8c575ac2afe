"""Lake table schemas: one definition, rendered for Spark and for Arrow.

Storage types follow the meters' resolution, so files stay small: a float64 channel costs
about 35 bytes per reading in Parquet+ZSTD, a quantised decimal about 5. Energy is kWh
with 3 decimals (Wh), voltage 0.1 V, current 0.01 A, power factor 0.001, frequency 0.01 Hz.
The partition column is ``date``: the local calendar date (``day`` in Cassandra).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import types as T

#: The lake's name for the local calendar date (Cassandra calls it ``day``).
PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class Column:
    """A lake column: a name, a logical type and nullability."""

    name: str
    kind: str  # string | date | timestamp | int | decimal(p,s)
    nullable: bool = True

    @property
    def decimal_digits(self) -> tuple[int, int] | None:
        """(precision, scale) of a ``decimal(p,s)`` column; None for any other kind."""
        if not self.kind.startswith("decimal"):
            return None
        precision, scale = (int(x) for x in self.kind[8:-1].split(","))
        return precision, scale

    def spark_type(self) -> T.DataType:
        if self.decimal_digits:
            return T.DecimalType(*self.decimal_digits)
        return {"string": T.StringType(), "date": T.DateType(), "timestamp": T.TimestampType(),
                "int": T.IntegerType()}[self.kind]

    def arrow_type(self) -> pa.DataType:
        if self.decimal_digits:
            return pa.decimal128(*self.decimal_digits)
        return {"string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"),
                "int": pa.int32()}[self.kind]


@dataclass(frozen=True)
class LakeTable:
    """A lake table: its path under the lake root, its columns and partitioning."""

    path: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = (PARTITION_COLUMN,)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def spark_schema(self) -> T.StructType:
        return T.StructType([T.StructField(c.name, c.spark_type(), c.nullable) for c in self.columns])

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type(), c.nullable) for c in self.columns])


KWH = "decimal(10,3)"
VOLTS = "decimal(5,1)"
AMPS = "decimal(8,2)"

#: The channels a meter reading carries (all nullable: a meter reports what it measures).
METER_CHANNELS = (
    Column("kwh_import", KWH),
    Column("kwh_export", KWH),
    Column("kvarh", KWH),
    Column("voltage_v", VOLTS),
    Column("current_a", AMPS),
    Column("power_factor", "decimal(4,3)"),
)
#: The channels of a grid sensor (power-quality monitor on a transformer, feeder or substation).
SENSOR_CHANNELS = (
    Column("voltage_l1_v", VOLTS),
    Column("voltage_l2_v", VOLTS),
    Column("voltage_l3_v", VOLTS),
    Column("current_a", AMPS),
    Column("frequency_hz", "decimal(5,2)"),
    Column("transformer_temp_c", "decimal(4,1)"),
)


def bronze_readings(path: str, device_column: str, channels: tuple[Column, ...]) -> LakeTable:
    """A bronze readings table: the Cassandra table as read, ``day`` renamed ``date``."""
    return LakeTable(
        path=path,
        columns=(
            Column(device_column, "string", nullable=False),
            Column(PARTITION_COLUMN, "date", nullable=False),
            Column("ts", "timestamp", nullable=False),
            Column("ingest_id", "string", nullable=False),
            Column("interval_s", "int"),
            *channels,
            Column("source", "string"),
            Column("received_at", "timestamp"),
        ),
    )


BRONZE_METER_READINGS = bronze_readings("bronze/meter_readings", "meter_id", METER_CHANNELS)
BRONZE_SENSOR_READINGS = bronze_readings("bronze/sensor_readings", "sensor_id", SENSOR_CHANNELS)


def _with(table: LakeTable, path: str, *extra: Column) -> LakeTable:
    return LakeTable(path=path, columns=(*table.columns, *extra), partition_by=table.partition_by)


#: Every interval after VEE: the bronze columns plus its status, the rule that set it and the
#: rule-set version. Estimated intervals are new rows (ingest_id names the estimate).
SILVER_METER_READINGS = _with(
    BRONZE_METER_READINGS, "silver/meter_readings",
    Column("status", "string", nullable=False),
    Column("rule_id", "string"),
    Column("ruleset_version", "string", nullable=False),
)

#: Rejected rows, as read, with why: nothing is dropped.
SILVER_QUARANTINE = _with(
    BRONZE_METER_READINGS, "silver/quarantine",
    Column("reason", "string", nullable=False),
    Column("rule_id", "string", nullable=False),
    Column("ruleset_version", "string", nullable=False),
)
