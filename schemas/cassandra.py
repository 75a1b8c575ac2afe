"""The Cassandra data model of keyspace ``grid``, as data: tables render their own CQL.

Keeping tables as data (columns, keys, options) rather than CQL text lets `gridlake schema
apply` migrate as well as create: a column present here but missing in the live table is
added with ALTER TABLE, so a new nullable column keeps every stored row.

Storage types follow the meters' resolution (schemas/channels.py): energy in kWh with 3
decimals (Wh), voltage with 1 decimal, power factor with 3. A reading's channels are kept as
whole numbers of those steps (StoredChannel): ``kwh_import_x1000`` holds kWh x 1000, Wh.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from schemas.channels import METER_CHANNELS, SENSOR_CHANNELS, decimal_digits

#: Buckets per day in the ``*_days`` index tables, so one day's keys spread over partitions.
DAY_BUCKETS = 16


@dataclass(frozen=True)
class StoredChannel:
    """A reading channel as Cassandra keeps it: the whole number of the channel's resolution
    steps, in a column named for the factor (``kwh_import`` to 0.001 kWh: ``kwh_import_x1000``,
    in Wh), as an ``int`` or, past 9 digits, a ``bigint``.

    Meters count in whole steps (a Wh register; a DLMS value with its scaler), and the lake
    keeps the same steps as a decimal of the same precision and scale. An integer is also what
    the Spark connector reads cheapest: a Cassandra ``decimal`` reaches Spark as a 38-digit
    decimal that the extract narrowed row by row (a quarter of its tasks' CPU, issue 4). Writers and
    readers convert here and in the extract (jobs/stages/extract.py ``to_bronze``), never
    elsewhere.
    """

    name: str  # the reading's name, as producers and the lake call it
    precision: int
    scale: int

    @classmethod
    def of(cls, name: str, kind: str) -> StoredChannel:
        """The stored form of a channel kept as ``kind``, a ``decimal(p,s)``."""
        digits = decimal_digits(kind)
        if digits is None:
            raise ValueError(f"channel {name} is {kind}, not a decimal(p,s)")
        return cls(name, *digits)

    @property
    def column(self) -> str:
        return f"{self.name}_x{10 ** self.scale}"

    @property
    def cql_type(self) -> str:
        return "int" if self.precision <= 9 else "bigint"

    def to_stored(self, value: Decimal) -> int:
        """The steps of ``value``, rounded half up to the resolution (as a cast to the lake's
        decimal rounds); ValueError, naming the channel, when it does not fit the lake's type."""
        steps = int(Decimal(value).scaleb(self.scale).to_integral_value(ROUND_HALF_UP))
        if abs(steps) >= 10**self.precision:
            raise ValueError(f"{self.name} = {value} does not fit decimal({self.precision},{self.scale})")
        return steps

    def from_stored(self, steps: int) -> Decimal:
        """The channel's value of a stored number of steps."""
        return Decimal(steps).scaleb(-self.scale)


@dataclass(frozen=True)
class Table:
    """One Cassandra table: its columns in order, its keys and its table options; for a
    readings table, the channels stored as steps (StoredChannel) among its columns."""

    name: str
    columns: dict[str, str]
    partition_key: tuple[str, ...]
    clustering: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    time_series: bool = False
    channels: tuple[StoredChannel, ...] = ()

    @property
    def row_fields(self) -> tuple[str, ...]:
        """What a producer's row for this table names: its columns, a channel by its reading's
        name (``kwh_import``, not the stored ``kwh_import_x1000``)."""
        stored = {channel.column: channel.name for channel in self.channels}
        return tuple(stored.get(column, column) for column in self.columns)

    def create_cql(self, keyspace: str, time_series_options: dict[str, str]) -> str:
        """CREATE TABLE IF NOT EXISTS, with the time-series options where they apply."""
        columns = ", ".join(f"{name} {cql_type}" for name, cql_type in self.columns.items())
        key = primary_key_cql(self.partition_key, self.clustering)
        options = {**(time_series_options if self.time_series else {}), **self.options}
        with_clause = " AND ".join(f"{name} = {value}" for name, value in options.items())
        cql = f"CREATE TABLE IF NOT EXISTS {keyspace}.{self.name} ({columns}, PRIMARY KEY {key})"
        return f"{cql} WITH {with_clause}" if with_clause else cql


def primary_key_cql(partition_key: tuple[str, ...], clustering: tuple[str, ...]) -> str:
    """A primary key as CQL writes it: ``((family, month, bucket), tag, item)``."""
    return f"(({', '.join(partition_key)}){''.join(', ' + column for column in clustering)})"


def readings_table(name: str, device_column: str, channels: dict[str, str]) -> Table:
    """A readings table keyed by (device, local day), keeping every received version."""
    stored = tuple(StoredChannel.of(channel, kind) for channel, kind in channels.items())
    return Table(
        name=name,
        columns={
            device_column: "text",
            "day": "date",  # the device's local calendar date
            "ts": "timestamp",  # UTC start of the interval
            "ingest_id": "text",  # deterministic id of the received record: every version is kept
            "interval_s": "int",
            **{channel.column: channel.cql_type for channel in stored},
            "source": "text",
            "received_at": "timestamp",
        },
        partition_key=(device_column, "day"),
        clustering=("ts", "ingest_id"),
        time_series=True,
        channels=stored,
    )


def days_table(name: str, device_column: str) -> Table:
    """The index of which devices have readings on a local day, spread over DAY_BUCKETS."""
    return Table(
        name=name,
        columns={"day": "date", "bucket": "int", device_column: "text", "received_at": "timestamp"},
        partition_key=("day", "bucket"),
        clustering=(device_column,),
        time_series=True,
    )


METER_READINGS = readings_table("meter_readings", "meter_id", METER_CHANNELS)
METER_DAYS = days_table("meter_days", "meter_id")
SENSOR_READINGS = readings_table("sensor_readings", "sensor_id", SENSOR_CHANNELS)
SENSOR_DAYS = days_table("sensor_days", "sensor_id")

METERS = Table(
    name="meters",
    columns={
        "meter_id": "text",
        "meter_class": "text",  # residential | commercial | industrial | prosumer | ev_charging | feeder
        "tariff": "text",
        "address": "text",
        "lat": "double",
        "lon": "double",
        "feeder_id": "text",
        "substation_id": "text",
        "region": "text",
        "timezone": "text",
        "nominal_voltage_v": "decimal",
        "interval_s": "int",
        "active_from": "date",
        "active_to": "date",  # null: still active
        "source": "text",
        "capacity_kw": "double",  # what the connection is rated for; null: its class's (vee.connection_kw)
    },
    partition_key=("meter_id",),
)

SENSORS = Table(
    name="sensors",
    columns={
        "sensor_id": "text",
        "sensor_type": "text",  # transformer | feeder | substation
        "description": "text",
        "lat": "double",
        "lon": "double",
        "feeder_id": "text",
        "substation_id": "text",
        "region": "text",
        "timezone": "text",
        "nominal_voltage_v": "decimal",
        "interval_s": "int",
        "active_from": "date",
        "active_to": "date",
        "source": "text",
    },
    partition_key=("sensor_id",),
)

LOAD_REJECTS = Table(
    name="load_rejects",
    columns={"source": "text", "file": "text", "line": "int", "reason": "text", "raw": "text",
             "received_at": "timestamp"},
    partition_key=("source", "file"),
    clustering=("line",),
)

#: Durable copies of the published cache entries (written through or behind Redis): one row
#: per Redis key, found by the key's parts (family, hash tag, the rest), so a cache miss is one
#: single-partition read. A partition holds one month of a family's entries for a bucket of
#: tags (``cache_bucket``): a day's publish writes CACHE_BUCKETS partitions per family in
#: batches of hundreds of rows, where one partition per meter made each row a request of its
#: own and cost Cassandra three times the CPU. ``meter_latest`` has no rows: a miss reads the
#: meter's newest ``meter_daily`` row, month by month back through CACHE_ENTRY_MONTHS
#: (schemas/cache_keys.py, ``newest_of``). ``value`` is the entry's JSON document, as the API
#: sends it; ``version`` the publish that wrote it, and Cassandra's ``WRITETIME(value)`` when.
CACHE_ENTRIES = Table(
    name="cache_entries",
    columns={"family": "text", "month": "text", "bucket": "int", "tag": "text", "item": "text", "version": "text",
             "value": "text"},
    partition_key=("family", "month", "bucket"),
    clustering=("tag", "item"),
)

#: The months (YYYY-MM) that hold durable copies of each family: where a miss of a
#: ``newest_of`` family looks, newest first. Written before the copies of a month.
CACHE_ENTRY_MONTHS = Table(
    name="cache_entry_months",
    columns={"family": "text", "month": "text"},
    partition_key=("family",),
    clustering=("month",),
)

#: Buckets of tags per family and month in ``cache_entries``. A month of 100,000 meters' daily
#: figures is 256 partitions of about 4 MB, and a day's publish 256 partitions of about 390 rows.
CACHE_BUCKETS = 256


def cache_bucket(tag: str) -> int:
    """The ``cache_entries`` bucket of a hash tag: CRC-32 of its UTF-8 bytes modulo
    CACHE_BUCKETS, which Spark computes alike (``crc32``) in the publish's own rows."""
    return zlib.crc32(tag.encode()) % CACHE_BUCKETS


#: Ground truth of the synthetic grid: one row per (device, interval, fault kind) the generator
#: injected, so VEE can be graded. The format and the fault kinds are documented in
#: schemas/ground_truth.py.
FAULT_LABELS = Table(
    name="fault_labels",
    columns={
        "day": "date",  # the partition (local day) the faulty row is in, or would be in
        "device_id": "text",
        "ts": "timestamp",  # UTC interval start, as written (or as missing)
        "fault_kind": "text",
        "device_type": "text",  # meter | sensor
        "channel": "text",  # the channel the fault is on; null: the whole reading
        "expected_value": "decimal",  # the true value of that channel, where one exists
        "written_value": "decimal",  # the value the faulty row carries
        "ingest_id": "text",  # the faulty row's ingest_id; null: no row was written
        "received_at": "timestamp",
        "held_back": "boolean",  # true: written only by `gridlake seed --late-rows only`
        "seed": "int",
    },
    partition_key=("day",),
    clustering=("device_id", "ts", "fault_kind"),
)

#: The lease of the run of a stage for a date that is going (jobs/stores/stage_leases.py):
#: written with a lightweight transaction and a TTL its holder renews; no row, no run.
STAGE_LEASES = Table(
    name="stage_leases",
    columns={"stage": "text", "day": "date", "holder": "text", "host": "text", "pid": "int",
             "acquired_at": "timestamp"},
    partition_key=("stage", "day"),
)

TABLES: tuple[Table, ...] = (
    METER_READINGS, METER_DAYS, SENSOR_READINGS, SENSOR_DAYS, METERS, SENSORS, LOAD_REJECTS,
    CACHE_ENTRIES, CACHE_ENTRY_MONTHS, FAULT_LABELS, STAGE_LEASES,
)

STACK_CHECK_TABLE = "stack_check"


def keyspace_cql(keyspace: str, replication: dict[str, Any]) -> str:
    """CREATE KEYSPACE for the configured replication (idempotent)."""
    options = json.dumps(replication).replace('"', "'")
    return f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {options}"


def time_series_options(ttl_s: int, window_unit: str, window_size: int) -> dict[str, str]:
    """TimeWindowCompaction and the raw-data TTL: raw data is kept a bounded window."""
    compaction = {"class": "TimeWindowCompactionStrategy", "compaction_window_unit": window_unit,
                  "compaction_window_size": str(window_size)}
    return {"compaction": json.dumps(compaction).replace('"', "'"), "default_time_to_live": str(ttl_s)}


def stack_check_table_cql(keyspace: str) -> str:
    """The table the stack check writes through Spark: one meter's intervals of one day."""
    return (
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{STACK_CHECK_TABLE} ("
        " meter_id text, day date, ts timestamp, kwh_import decimal,"
        " PRIMARY KEY ((meter_id, day), ts))"
    )
