"""Lake table schemas: one definition, rendered for Spark and for Arrow.

Storage types follow the meters' resolution (schemas/channels.py), so files stay small: a
float64 channel costs about 35 bytes per reading in Parquet+ZSTD, a quantised decimal about 5.
The partition column is ``date``: the local calendar date (``day`` in Cassandra).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import types as T

from schemas.channels import METER_CHANNELS, SENSOR_CHANNELS, decimal_digits

#: The lake's name for the local calendar date (Cassandra calls it ``day``).
PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class Column:
    """A lake column: a name, a logical type and nullability."""

    name: str
    kind: str  # string | date | timestamp | int | decimal(p,s)
    nullable: bool = True

    def spark_type(self) -> T.DataType:
        if digits := decimal_digits(self.kind):
            return T.DecimalType(*digits)
        return {"string": T.StringType(), "date": T.DateType(), "timestamp": T.TimestampType(),
                "int": T.IntegerType()}[self.kind]

    def arrow_type(self) -> pa.DataType:
        if digits := decimal_digits(self.kind):
            return pa.decimal128(*digits)
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


def bronze_readings(path: str, device_column: str, channels: dict[str, str]) -> LakeTable:
    """A bronze readings table: the Cassandra table as read, ``day`` renamed ``date``, each of
    ``channels`` (name: decimal type, schemas/channels.py) a nullable column."""
    return LakeTable(
        path=path,
        columns=(
            Column(device_column, "string", nullable=False),
            Column(PARTITION_COLUMN, "date", nullable=False),
            Column("ts", "timestamp", nullable=False),
            Column("ingest_id", "string", nullable=False),
            Column("interval_s", "int"),
            *(Column(name, kind) for name, kind in channels.items()),
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
