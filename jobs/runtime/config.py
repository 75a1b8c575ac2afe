"""Configuration: conf/base.yaml < conf/<env>.yaml < GRIDLAKE_* environment variables.

Validated once at start-up; a bad value stops the program with one line naming the key
and, where the key has a fixed set of values, the allowed ones. Passwords are read only
from the environment (GRIDLAKE_CASSANDRA__PASSWORD and the like): a password in a YAML
file is refused, so secrets never land in git.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# The checkout (conf/, the state dir). A job shipped to spark-submit as a zip (--py-files)
# runs its driver beside the checkout, which GRIDLAKE_HOME then names.
PROJECT_ROOT = Path(os.environ.get("GRIDLAKE_HOME") or Path(__file__).resolve().parents[2])
DEFAULT_CONF_DIR = PROJECT_ROOT / "conf"
ENV_PREFIX = "GRIDLAKE_"

LakeFormat = Literal["delta", "parquet", "orc"]


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridConf(_Section):
    """The generator's keys shape the synthetic grid: meters -> transformer -> feeder -> substation -> region."""

    timezone: str = Field(
        "Europe/Tirane",
        description="The grid's local time zone (IANA name): local days, DST days and clock times are in it.")
    centre_lat: float = Field(
        41.3275, ge=-90, le=90,
        description="Latitude of the city centre the generated streets surround (Tirana's Sheshi Skënderbej).")
    centre_lon: float = Field(
        19.8187, ge=-180, le=180, description="Longitude of the city centre the generated streets surround.")
    nominal_voltage_v: float = Field(
        230.0, gt=0,
        description="Nominal supply voltage, in volts: VEE's and EN 50160's voltage limits are relative to it.")
    frequency_hz: float = Field(50.0, gt=0, description="Nominal grid frequency, in hertz.")
    meter_interval_s: int = Field(
        900, ge=60,
        description="A meter's interval, in seconds; must divide an hour, so both DST days are whole intervals.")
    sensor_interval_s: int = Field(
        600, ge=60, description="A feeder sensor's interval (per-phase voltage), in seconds; must divide an hour too.")
    street_spacing_m: float = Field(
        110.0, gt=0, description="Generator: distance between the streets of the generated grid, in meters.")
    meters_per_transformer: int = Field(40, ge=1, description="Generator: meters fed by each transformer.")
    transformers_per_feeder: int = Field(6, ge=1, description="Generator: transformers on each feeder.")
    feeders_per_substation: int = Field(4, ge=1, description="Generator: feeders out of each substation.")
    substations_per_region: int = Field(2, ge=1, description="Generator: substations in each region.")
    meter_churn: float = Field(
        0.04, ge=0, le=0.5,
        description="Generator: share of catalogue meters installed, or removed, inside the generated range.")
    sag_swell_rate: float = Field(
        0.08, ge=0, le=1,
        description="Generator: share of feeder-days with a voltage sag or swell (a grid event, not a meter fault).")
    late_after_days: int = Field(
        3, ge=1, description="Generator: late-arriving readings are received this many days after their interval.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("meter_interval_s", "sensor_interval_s")
    @classmethod
    def _whole_hour_divisor(cls, value: int) -> int:
        # A DST change moves the clock by an hour: only then are both DST days whole intervals.
        if 3600 % value:
            raise ValueError("must divide an hour (3600 s) exactly")
        return value


class SparkConf(_Section):
    """The Cassandra connector's and Delta's jars are pinned in jvm/spark/pom.xml."""

    master: str = Field(
        "local[*]", description="Spark master: `local[*]` (every core of this machine), `spark://host:7077`, `yarn`...")
    app_name: str = Field("gridlake", description="Spark application name.")
    driver_memory: str = Field("2g", pattern=r"^\d+[mg]$", description="Memory of the Spark driver, e.g. 2g or 512m.")
    shuffle_partitions: int = Field(
        8, ge=1, description="Partitions of Spark SQL's shuffles (spark.sql.shuffle.partitions).")
    snapshot_partitions: int = Field(
        2, ge=1,
        description="Tasks Delta rebuilds a changed table's state with, before every write (8 cost 0.4 s more).")
    ui_enabled: bool = Field(False, description="Start Spark's web UI.")


class LakeConf(_Section):
    """A partition's files are estimated from its rows times ``bytes_per_reading``, toward ``target_file_mb`` each."""

    root: str = Field(
        "lake",
        description="Lake root: any Hadoop filesystem URI (s3a://, abfss://, hdfs://), or a path under state_dir.")
    format: LakeFormat = Field(
        "delta", description="Table format of every lake table: delta (atomic partition replace), parquet or orc.")
    target_file_mb: float = Field(
        128, gt=0,
        description="Target file size in MiB (the extract still writes one file per core while each holds 1 MiB).")
    bytes_per_reading: float = Field(
        8.0, gt=0, description="Bytes one reading takes on disk, to estimate a partition's files from its rows.")
    vacuum_retention_hours: int = Field(
        168, ge=168,
        description="VACUUM keeps replaced Delta files this long for readers of old versions (Delta's minimum: 168).")
    allow_empty_replace: bool = Field(
        False, description="Let an extract replace a date's bronze partition that has rows with nothing, when "
                           "Cassandra no longer holds the day (`--allow-empty` for one run).")


class LeaseConf(_Section):
    """One run of a stage for a date at a time (jobs/stores/stage_leases.py)."""

    ttl_s: int = Field(
        60, ge=3, description="A run's lease on its (stage, date) lasts this long after its last heartbeat "
                              "(every third of it): a run killed on another host frees its date after this.")
    wait_s: float = Field(
        0.0, ge=0, description="How long a second run of the same (stage, date) waits for the first to end "
                               "before it fails naming it (0: it fails at once).")


class BackfillConf(_Section):
    """Bounds on what one command runs, so a typo in a date cannot start years of work."""

    max_days: int = Field(
        366, ge=1, description="Most local dates one `run`, `backfill` or `airflow test-day` command takes.")
    max_parallel: int = Field(4, ge=1, description="Most (stage, date) runs `backfill --parallel` runs at once.")


#: Cassandra's consistency levels, as the driver and the Spark connector name them.
ConsistencyName = Literal["ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"]


class CassandraConf(_Section):
    """Raw readings live in Cassandra for a bounded window; the lake keeps the history."""

    hosts: list[str] = Field(["127.0.0.1"], description="Contact points of the Cassandra cluster.")
    port: int = Field(9042, ge=1, le=65535, description="CQL native port of the Cassandra nodes.")
    keyspace: str = Field(
        "grid", pattern=r"^[a-z][a-z0-9_]{0,47}$",
        description="Keyspace of gridlake's tables (meters, readings, cache entries...).")
    replication: dict[str, Any] = Field(
        {"class": "SimpleStrategy", "replication_factor": 1},
        description="Replication of the keyspace: CQL's replication map, its class and options.")
    raw_ttl_days: int = Field(
        90, ge=0, description="Default TTL of the raw time-series tables, in days (0: readings never expire).")
    compaction_window_unit: Literal["MINUTES", "HOURS", "DAYS"] = Field(
        "DAYS", description="Unit of the time windows (TWCS) the time-series tables are compacted in.")
    compaction_window_size: int = Field(
        1, ge=1, description="Size of a TWCS compaction window, in compaction_window_units.")
    write_concurrency: int = Field(
        64, ge=1, le=2048, description="Requests in flight when loading readings with the driver.")
    read_concurrency: int = Field(
        128, ge=1, le=2048,
        description="Requests in flight per Spark task as the extract reads a day (512 quadruples the driver's GC).")
    read_consistency: ConsistencyName = Field(
        "LOCAL_ONE", description="Consistency level of every read, by the driver and by Spark (LOCAL_QUORUM "
                                 "where replicas may lag: a replicated production cluster).")
    write_consistency: ConsistencyName = Field(
        "LOCAL_QUORUM", description="Consistency level of every write, by the driver and by Spark.")
    username: str | None = Field(None, description="Cassandra user; null connects without authentication.")
    password: SecretStr | None = Field(
        None, description="The user's password: only from the environment (GRIDLAKE_CASSANDRA__PASSWORD).")


class ElasticsearchConf(_Section):
    """The search indices are built, aliased and rolled back here (see ``search``)."""

    url: str = Field("http://127.0.0.1:9200", description="URL of the Elasticsearch cluster.")
    username: str | None = Field(None, description="Elasticsearch user; null connects without authentication.")
    password: SecretStr | None = Field(
        None, description="The user's password: only from the environment (GRIDLAKE_ELASTICSEARCH__PASSWORD).")


class RedisTlsConf(_Section):
    """On with ``enabled`` or a ``rediss://`` url. The server's certificate is checked against
    ``ca_file`` (the system's CAs when unset); ``cert_file`` and ``key_file`` present a client
    certificate when the server asks for one (``tls-auth-clients``)."""

    enabled: bool = Field(False, description="Use TLS with a redis:// url too (a rediss:// url always does).")
    ca_file: Path | None = Field(
        None, description="CA bundle that signed the server's certificate; null: the system's CAs.")
    cert_file: Path | None = Field(
        None, description="Client certificate, for servers with tls-auth-clients yes; goes with key_file.")
    key_file: Path | None = Field(None, description="The key of cert_file.")
    check_hostname: bool = Field(
        True,
        description="Check that the certificate names the host connected to (turn off only for IP-less test certs).")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(f"no such file {str(value)!r}")
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _cert_with_key(self) -> RedisTlsConf:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate and its key)")
        return self


class RedisConf(_Section):
    """Every Redis client connects with these: jobs, Spark tasks, the reader, writeback workers, probes."""

    url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="The single Redis server: redis://host:port/db, rediss:// for TLS; no user or password in it.")
    cluster_nodes: list[str] = Field(
        ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"],
        description="Seed nodes (host:port) of the Redis Cluster that cache.cluster publishes into.")
    username: str | None = Field(
        None, description="ACL user (Redis 6+); null with a password set authenticates as Redis's default user.")
    password: SecretStr | None = Field(
        None,
        description="The ACL user's password, cluster nodes too: only from the environment (GRIDLAKE_REDIS__PASSWORD).")
    tls: RedisTlsConf = Field(RedisTlsConf(), description="TLS towards the Redis server and the cluster's nodes.")
    socket_timeout_s: float = Field(
        5.0, gt=0, description="Connect and socket timeout of every Redis client, in seconds.")

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_url(cls, data: Any) -> Any:
        # Checked on the whole section, so that the error never echoes the url (and its secret).
        url = data.get("url") if isinstance(data, dict) else None
        if isinstance(url, str) and "@" in url.split("/")[2 if "//" in url else 0]:
            raise ValueError("url: no user or password in it; use redis.username and GRIDLAKE_REDIS__PASSWORD")
        return data

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
            raise ValueError("must be redis://host:port/db or rediss://host:port/db (TLS)")
        return value

    @field_validator("cluster_nodes")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        for node in value:
            host, _, port = node.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{node!r} is not host:port")
        return value

    @property
    def server(self) -> tuple[str, int, int]:
        """The single server's host, port and database number, from ``url``."""
        url = urlparse(self.url)
        return url.hostname or "", url.port or 6379, int(url.path.strip("/") or 0)

    @property
    def tls_on(self) -> bool:
        """TLS is used when asked for either way: ``tls.enabled`` or a ``rediss://`` url."""
        return self.tls.enabled or urlparse(self.url).scheme == "rediss"


class LocalCassandraConf(_Section):
    """Its jars come through Maven (jvm/cassandra/pom.xml)."""

    version: str = Field("5.0.6", description="Cassandra version of the local server.")
    heap: str = Field("1g", pattern=r"^\d+[mg]$", description="JVM heap of the local Cassandra, e.g. 1g or 512m.")


class LocalElasticsearchConf(_Section):
    """Elasticsearch 8.14.1, pinned in jvm/elasticsearch/pom.xml."""

    nodes: int = Field(1, ge=1, le=5, description="Nodes of the local Elasticsearch cluster.")
    heap: str = Field(
        "512m", pattern=r"^\d+[mg]$", description="JVM heap of each local Elasticsearch node, e.g. 512m or 1g.")


class LocalRedisConf(_Section):
    """The single server and the cluster's nodes."""

    maxmemory: str = Field(
        "256mb", description="maxmemory of each local Redis server, in Redis's notation (256mb, 1gb).")


class LocalMemcachedConf(_Section):
    port: int = Field(11211, ge=1, le=65535, description="Port of the local memcached (`services up --memcached`).")
    memory_mb: int = Field(64, ge=8, description="Memory of the local memcached, in MiB.")


class ServicesConf(_Section):
    """In production leave them alone and point the client sections (cassandra, elasticsearch,
    redis) at the real clusters."""

    start_timeout_s: int = Field(
        180, ge=5, description="Seconds the local servers get to come up before `gridlake services up` gives up.")
    cassandra: LocalCassandraConf = Field(LocalCassandraConf(), description="The local Cassandra server.")
    elasticsearch: LocalElasticsearchConf = Field(
        LocalElasticsearchConf(), description="The local Elasticsearch cluster.")
    redis: LocalRedisConf = Field(LocalRedisConf(), description="The local Redis servers.")
    memcached: LocalMemcachedConf = Field(LocalMemcachedConf(), description="The local memcached.")


class VeeConf(_Section):
    """Gaps are in seconds, streaks in intervals. Estimation: linear across a short gap with both
    sides known, a like-day average across a longer one, a flat fill when only one side is known,
    nothing beyond ``max_estimation_gap_s``. Spikes: ``spike_day_factor``, or
    ``spike_local_factor`` with ``spike_window_intervals`` and ``spike_min_kwh``."""

    ruleset_version: str = Field(
        "vee-1", min_length=1,
        description="Carried by every silver and quarantine row: change it whenever a rule or threshold changes.")
    max_linear_gap_s: int = Field(
        3600, ge=0, description="Gaps up to this long with a reading on both sides: linear interpolation.")
    max_estimation_gap_s: int = Field(
        90000, ge=0,
        description="Nothing is estimated in a gap longer than this (25 h: a whole local day, DST included).")
    like_days: int = Field(
        3, ge=1,
        description="Like-day estimation averages this many nearest earlier days of the same kind (weekday/weekend).")
    like_day_lookback_days: int = Field(
        28, ge=1, description="Like days are looked for at most this many days back in silver.")
    zero_streak_max_intervals: int = Field(
        3, ge=1, description="Zeros (no import, no export) in more consecutive intervals than this are SUSPECT.")
    frozen_min_intervals: int = Field(
        5, ge=2, description="A non-zero import repeated in at least this many consecutive intervals is SUSPECT.")
    spike_day_factor: float = Field(
        2.0, gt=1, description="Spike: an interval at least this many times the day's third-highest interval.")
    spike_local_factor: float = Field(
        2.2, gt=1,
        description="Spike: one of the day's three highest at least this many times the median of its neighbours.")
    spike_window_intervals: int = Field(
        4, ge=1, description="The neighbours of spike_local_factor: this many intervals on each side.")
    spike_min_kwh: float = Field(
        0.05, ge=0, description="A local spike is also at least this many kWh above its neighbours' median.")
    voltage_tolerance: float = Field(
        0.10, gt=0, lt=1, description="Voltage outside nominal x (1 +- tolerance) is SUSPECT.")
    grid_event_min_meters: int = Field(
        3, ge=1,
        description="Out-of-range voltages are a feeder's sag or swell if this many of its meters are out together...")
    grid_event_share: float = Field(
        0.5, gt=0, le=1, description="...and this share of those reporting, on the same side at the same instant.")
    future_tolerance_s: int = Field(
        300, ge=0, description="A reading whose interval ends later than its receipt plus this is from the future.")
    late_after_s: int = Field(
        86400, ge=0, description="Received this long after its interval ended: flagged late (still VALID).")
    connection_kw: dict[str, float] = Field(
        {"residential": 11.0, "commercial": 44.0, "industrial": 250.0, "prosumer": 11.0, "ev_charging": 50.0,
         "default": 250.0},
        description="Connection capacity per meter class in kW; `default` serves classes not listed.")
    impossible_factor: float = Field(
        1.5, ge=1, description="An interval beyond its class's capacity x hours x this factor cannot be real.")

    @field_validator("connection_kw")
    @classmethod
    def _has_default(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value:
            raise ValueError("needs a 'default' capacity for meter classes not listed")
        if any(kw <= 0 for kw in value.values()):
            raise ValueError("capacities must be positive")
        return value


class TouBandConf(_Section):
    """One time-of-use band of a tariff: local clock times [start, end) on some kinds of day."""

    band: str = Field(min_length=1, description="Name of the band (peak, off_peak, night...).")
    days: Literal["all", "working", "non_working"] = Field(
        "all", description="Kinds of day the band holds on: all, working or non_working (weekends and holidays).")
    start: str = Field(
        "00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local clock time the band starts, quoted \"HH:MM\" (YAML reads 07:00 as a number).")
    end: str = Field(
        "00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local clock time it ends (excluded); at or before start wraps past midnight; equal: whole day.")


class TouConf(_Section):
    """Holidays (local dates) are non-working days, as are Saturdays and Sundays."""

    default_band: str = Field(
        "flat", description="Band of every interval of a tariff not listed in tariffs (flat ones), or of no tariff.")
    unbanded: str = Field(
        "unbanded",
        description="Band of an interval of a listed tariff that none of its bands holds (a gap in the schedule).")
    holidays: list[date] = Field([], description="Local dates billed as non-working days, like Saturdays and Sundays.")
    tariffs: dict[str, list[TouBandConf]] = Field(
        {}, description="Per tariff, its time-of-use bands in order: an interval takes the first that holds it.")


class VoltageQualityConf(_Section):
    """A local Monday-to-Sunday week complies when enough of its 10-minute means are within
    nominal +-10% and none is outside +10%/-15%."""

    min_data_share: float = Field(
        0.9, ge=0, le=1,
        description="Under this share of the week's 10-minute values the verdict is insufficient_data.")
    within_share_required: float = Field(
        0.95, ge=0, le=1, description="Share of the week's 10-minute means that must be within nominal +-10%.")


class AnomaliesConf(_Section):
    """A meter-day's score is its distance from the baseline's median in robust standard
    deviations (from the median absolute deviation)."""

    baseline_weeks: int = Field(
        4, ge=1, le=52, description="The baseline: same-kind days (working / non-working) of this many previous weeks.")
    min_baseline_days: int = Field(3, ge=1, description="A meter with fewer baseline days than this is not scored.")
    min_completeness: float = Field(
        0.9, ge=0, le=1, description="Days (scored and baseline) less complete than this are left out.")
    scale_floor_kwh: float = Field(
        0.5, gt=0,
        description="The scale never goes under this many kWh, so a flat baseline does not make every change infinite.")
    min_score: float = Field(
        3.0, ge=0, description="Meter-days scoring at least this far from the baseline, high or low, are anomalies.")
    top_n: int = Field(10, ge=1, description="Anomalies kept per feeder and day, highest scores first.")


class AggregatesConf(_Section):
    """Gold: energy per band, voltage compliance per feeder-week, anomalous meter-days."""

    tou: TouConf = Field(
        TouConf(), description="Time-of-use bands per tariff; a tariff not listed (or no tariff) gets default_band.")
    voltage_quality: VoltageQualityConf = Field(
        VoltageQualityConf(), description="EN 50160 voltage quality of each feeder-week.")
    anomalies: AnomaliesConf = Field(
        AnomaliesConf(), description="Meter-days far from their like-day baseline (same day kind, previous weeks).")


class SearchConf(_Section):
    """Each build is a new index version behind an alias."""

    replicas: int = Field(
        0, ge=0, description="Replicas of an index once built (0 on a one-node cluster, or it stays yellow).")
    keep_versions: int = Field(3, ge=1, description="Index versions kept for `gridlake index rollback`.")


class AirflowConf(_Section):
    """Retries back off exponentially from ``retry_delay_s`` up to ``max_retry_delay_s``."""

    retries: int = Field(3, ge=0, description="Retries of a failed task.")
    retry_delay_s: int = Field(300, ge=1, description="Delay before the first retry, in seconds.")
    max_retry_delay_s: int = Field(3600, ge=1, description="Longest delay between retries, in seconds.")
    task_timeout_min: int = Field(120, ge=1, description="Time limit of a task, in minutes.")
    late_data_days: int = Field(
        3, ge=0,
        description="Each grid_daily run re-processes those of this many previous days whose Cassandra data changed.")


class MaintenanceConf(_Section):
    """OPTIMIZE/compaction of the week's bronze partitions, VACUUM, old search index versions
    (beyond search.keep_versions), Redis versions no longer live, and old `_runs` rows."""

    runs_retention_days: int = Field(400, ge=1, description="`_runs` rows older than this many days are deleted.")


class CacheConf(_Section):
    """Versions live ``ttl_days``; after a flip the previous version stays readable ``grace_s``.
    Durable copies go to Cassandra's cache_entries."""

    @field_validator("family_ttl_days")
    @classmethod
    def _known_families(cls, value: dict[str, int]) -> dict[str, int]:
        from schemas.cache_keys import KEY_FAMILIES

        known = sorted(family.name for family in KEY_FAMILIES)
        for name, days in value.items():
            if name not in known:
                raise ValueError(f"unknown key family {name!r} (known: {', '.join(known)})")
            if days < 1:
                raise ValueError(f"{name}: a lifetime of at least 1 day")
        return value

    prefix: str = Field("gridlake", pattern=r"^[a-z][a-z0-9_-]*$", description="Namespace of every cache key.")
    ttl_days: int = Field(8, ge=1, description="Lifetime of a published version, in days.")
    family_ttl_days: dict[str, int] = Field(
        {"meter_latest": 2, "area_top_consumers": 8},
        description="Days per key family, overriding ttl_days (meter_latest is read only while it is the latest day).")
    grace_s: int = Field(
        600, ge=0, description="How long the previous version stays readable after a flip, in seconds.")
    batch_size: int = Field(
        500, ge=1, description="Entries written to Redis per pipeline, each batch's durable copies after it.")
    cluster: bool = Field(
        False, description="Publish into the Redis Cluster of redis.cluster_nodes instead of redis.url.")
    top_consumers: int = Field(
        20, ge=1, description="Meters kept in each feeder's and region's top-consumers sorted set.")
    durable_mode: Literal["write-through", "write-behind"] = Field(
        "write-through",
        description="Durable copies by the publish (write-through) or by `gridlake writeback run` (write-behind).")
    writeback_max_deliveries: int = Field(
        5, ge=1, description="Write-behind: deliveries of an entry before it goes to the dead-letter stream.")
    writeback_claim_idle_ms: int = Field(
        30_000, ge=0,
        description="Write-behind: how long an entry sits unacknowledged before another worker reclaims it, in ms.")


class ReleaseConf(_Section):
    """How a day's new figures and search indices go live. ``live``: each at once, as its stage
    finishes. ``candidate``: the publish and the index build stop short of live, the edge's
    canary pool serves them, and grid_daily's ``release`` task promotes them together when the
    candidate passes its checks (else its ``abort`` task drops them); `gridlake cache promote`
    and `gridlake cache abort` do the same by hand, without the checks."""

    mode: Literal["live", "candidate"] = Field(
        "live", description="live: figures and search go live as they are built; candidate: they wait for a "
                            "promotion.")
    max_quarantine_share: float = Field(
        0.05, ge=0, le=1, description="Promotion check: the day's quarantined readings / bronze readings at most this.")
    max_count_change: float = Field(
        0.05, ge=0, description="Promotion check: the candidate's keys within this share of the live version's "
                                "(when the day has one).")
    max_total_change: float = Field(
        0.1, ge=0, description="Promotion check: the candidate's regions' total kWh imported within this share of "
                               "the live version's (when the day has one).")


class ApiConf(_Section):
    """The serving API (`gridlake serve`): what it listens on and the caching it advertises.

    A household's figures need a bearer token whose SHA-256 is in ``key_hashes``, mapped to
    the meters it may read (``*``: every meter); the keys themselves are never stored.
    Feeder, substation and region figures are public."""

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the API listens on.")
    workers: int = Field(
        2, ge=1, description="uvicorn worker processes, each with its own Redis and Cassandra clients.")
    analytics_max_age_s: int = Field(
        300, ge=0, description="Cache-Control max-age of public analytics responses, in seconds.")
    stale_while_revalidate_s: int = Field(
        60, ge=0, description="How long a cache may serve a stale analytics response while it revalidates, in seconds.")
    pointer_ttl_ms: int = Field(
        100, ge=0,
        description="How long a worker keeps a data version pointer it read: a flip is served that much later.")
    worker_entries: int = Field(
        10_000, ge=0, description="Entries each worker keeps in memory under their versioned keys (0: none).")
    memcached: str | None = Field(
        None, pattern=r"^[^:]+:\d+$",
        description="host:port of a memcached used as the first tier for hot keys; none: Redis only.")
    memcached_ttl_s: int = Field(300, ge=1, description="Lifetime of an entry in memcached, in seconds.")
    search_alias: str = Field(
        "meters", description="The Elasticsearch alias of meters and sensors that /v1/search reads.")
    key_hashes: dict[str, list[str]] = Field(
        {}, description="SHA-256 (hex) of each API key -> the meter ids it may read, or ['*'] for all.")
    data_version: Literal["live", "candidate"] = Field(
        "live", description="Which published version this API serves: live, or a day's candidate where there is "
                            "one (the edge's canary pool).")


class EdgeConf(_Section):
    """The nginx edge in front of the API (`gridlake services up --edge`): its configuration is
    rendered from this section into the state directory, never edited by hand.

    HTTPS on ``https_port`` (HTTP/2), plain HTTP on ``http_port`` only redirects. Requests go to
    the ``live_pool`` of API instances, or to the ``candidate_pool`` for the canary share of
    clients and for any request carrying ``X-Data-Version: candidate``."""

    host: str = Field("127.0.0.1", description="Address the edge listens on.")
    https_port: int = Field(8443, ge=1, le=65535, description="HTTPS port of the edge.")
    http_port: int = Field(8088, ge=1, le=65535, description="Plain HTTP port: every request is redirected to HTTPS.")
    live_pool: list[str] = Field(
        ["127.0.0.1:8080", "127.0.0.1:8082"], min_length=1,
        description="host:port of each API instance serving the live data (local ones are started with the edge).")
    candidate_pool: list[str] = Field(
        ["127.0.0.1:8084"], min_length=1,
        description="host:port of each API instance serving candidate data (api.data_version candidate).")
    canary_percent: float = Field(
        0.0, ge=0, le=100, description="Share of clients, in percent, sent to the candidate pool (stable per client).")
    workers: int = Field(
        1, ge=1, description="nginx worker processes (one per core the edge has to itself; on a machine shared with "
                             "the API, one).")
    rate_per_address: int = Field(200, ge=1, description="Requests per second allowed to one client address.")
    rate_per_key: int = Field(100, ge=1, description="Requests per second allowed to one API key.")
    burst: int = Field(100, ge=0, description="Requests over the rate a client may queue before it gets 429.")
    retry_after_s: int = Field(1, ge=1, description="Retry-After of a 429, in seconds.")
    cors_origins: list[str] = Field(
        [], description="Origins allowed to call the API from a browser (CORS), e.g. https://portal.example.")
    max_body_kb: int = Field(16, ge=1, description="Largest request body accepted, in KiB (413 beyond).")
    upstream_timeout_s: int = Field(30, ge=1, description="Seconds the edge waits for an API instance to answer.")
    cache_mb: int = Field(64, ge=1, description="Size of the edge's response cache, in MiB.")
    open_files: int = Field(
        10_000, ge=1, description="Cached responses whose files each nginx worker keeps open between hits "
                                  "(`open_file_cache`): a hit then reads its file without opening it.")
    version_ttl_s: int = Field(
        1, ge=1, description="How long the edge keeps a day's data version for its cache keys: a flip is "
                             "served by the edge that much later (nginx counts whole seconds: up to one more).")
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate of the edge; none: one issued by a local CA under the state directory.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")


class Settings(BaseSettings):
    """The whole configuration of one gridlake process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    env: str = Field(
        "local", description="The environment, whose `conf/<env>.yaml` is layered on `conf/base.yaml` (`--env`).")
    state_dir: Path = Field(
        Path(".gridlake"),
        description="Local state (service data, logs, pid files, the lake); a relative path hangs off the checkout.")
    java_home: Path = Field(
        Path("/usr/lib/jvm/java-17-openjdk-amd64"),
        description="Java 17, which every JVM gridlake starts runs on: Cassandra 5.0 and Spark 3.5 need it.")
    maven_repo: Path | None = Field(
        None, description="Maven's local repository for the servers' and Spark's jars; null: Maven's default, ~/.m2.")
    grid: GridConf = Field(
        GridConf(),
        description="The grid's electrical constants and the synthetic grid `gridlake seed` builds around a centre.")
    spark: SparkConf = Field(SparkConf(), description="The Spark session of every job.")
    lake: LakeConf = Field(
        LakeConf(), description="The lake: where its tables live, their format and their files' size.")
    cassandra: CassandraConf = Field(
        CassandraConf(), description="The Cassandra cluster the meters' raw readings land in.")
    backfill: BackfillConf = Field(
        BackfillConf(), description="Bounds on the date ranges and parallelism of one command.")
    lease: LeaseConf = Field(LeaseConf(), description="Leases on (stage, date) that keep two runs of one date apart.")
    elasticsearch: ElasticsearchConf = Field(
        ElasticsearchConf(), description="The Elasticsearch cluster of the search indices.")
    redis: RedisConf = Field(
        RedisConf(), description="How every Redis client connects: server, cluster, ACL user and TLS.")
    services: ServicesConf = Field(ServicesConf(), description="The local servers that `gridlake services up` starts.")
    api: ApiConf = Field(ApiConf(), description="The serving API.")
    edge: EdgeConf = Field(EdgeConf(), description="The nginx edge in front of the API.")
    release: ReleaseConf = Field(ReleaseConf(), description="How new figures and search indices go live.")
    cache: CacheConf = Field(
        CacheConf(),
        description="The serving cache in Redis (schemas/cache_keys.py): key namespace, lifetimes, durable copies.")
    search: SearchConf = Field(
        SearchConf(), description="Search index builds: replicas, and versions kept for rollback.")
    airflow: AirflowConf = Field(
        AirflowConf(), description="Task policy of the DAGs: retries with backoff, a time limit per task, late data.")
    maintenance: MaintenanceConf = Field(MaintenanceConf(), description="The weekly grid_maintenance DAG.")
    vee: VeeConf = Field(
        VeeConf(), description="Validation, estimation and editing of meter intervals (bronze -> silver + quarantine).")
    aggregates: AggregatesConf = Field(
        AggregatesConf(),
        description="The aggregates job (silver -> gold): time-of-use bands, EN 50160 voltage quality, anomalies.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML layers arrive as init arguments; the environment overrides them.
        return (env_settings, init_settings)

    @property
    def state_path(self) -> Path:
        """The state directory as an absolute path (relative ones hang off the checkout)."""
        path = self.state_dir.expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def lake_root(self) -> str:
        """The lake's root URI: a filesystem URI as given, a relative path under state_dir."""
        if "://" in self.lake.root or self.lake.root.startswith("/"):
            return self.lake.root
        return str(self.state_path / self.lake.root)


def model_defaults() -> dict[str, Any]:
    """The model's own defaults, nested like the YAML files: the layer under conf/base.yaml.

    Layering the files (and the environment) over it, rather than over nothing, lets a file that
    sets one entry of a mapping (``vee.connection_kw.residential``) keep the mapping's others.
    """
    return Settings.model_construct().model_dump(exclude={"env"})


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    _refuse_secrets(data, path, prefix="")
    return data


def _refuse_secrets(data: dict[str, Any], path: Path, prefix: str) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key == "password" and value is not None:
            env_name = ENV_PREFIX + dotted.upper().replace(".", "__")
            raise ConfigError(f"{path}: key {dotted}: passwords come only from the environment ({env_name})")
        if isinstance(value, dict):
            _refuse_secrets(value, path, prefix=f"{dotted}.")


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"key {key}{shown}: {error['msg']}"


def load_settings(env: str | None = None, conf_dir: Path | None = None) -> Settings:
    """Read, layer and validate the configuration of environment ``env``.

    ``env`` defaults to GRIDLAKE_ENV, then ``local``. Raises ConfigError with a one-line
    message naming the file or key at fault.
    """
    env = env or os.environ.get(f"{ENV_PREFIX}ENV") or "local"
    conf_dir = conf_dir or DEFAULT_CONF_DIR
    base_file = conf_dir / "base.yaml"
    env_file = conf_dir / f"{env}.yaml"
    if not base_file.is_file():
        raise ConfigError(f"{base_file}: configuration file not found")
    known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
    if env not in known:  # a name of conf/, never a path that happens to reach a YAML file
        raise ConfigError(f"environment {env!r} has no {env_file.name} in {conf_dir} (known: {', '.join(known)})")
    layered = _deep_merge(_deep_merge(model_defaults(), _read_yaml(base_file)), _read_yaml(env_file))
    layered["env"] = env
    try:
        return Settings(**layered)
    except ValidationError as exc:
        raise ConfigError("configuration: " + "; ".join(_describe(e) for e in exc.errors())) from None
