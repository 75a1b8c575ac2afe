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
PROJECT_ROOT = Path(os.environ.get("GRIDLAKE_HOME") or Path(__file__).resolve().parent.parent)
DEFAULT_CONF_DIR = PROJECT_ROOT / "conf"
ENV_PREFIX = "GRIDLAKE_"

LakeFormat = Literal["delta", "parquet", "orc"]


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridConf(_Section):
    """The grid the synthetic generator builds (`gridlake seed`) and its electrical constants."""

    timezone: str = "Europe/Tirane"
    centre_lat: float = Field(41.3275, ge=-90, le=90)
    centre_lon: float = Field(19.8187, ge=-180, le=180)
    nominal_voltage_v: float = Field(230.0, gt=0)
    frequency_hz: float = Field(50.0, gt=0)
    meter_interval_s: int = Field(900, ge=60)
    sensor_interval_s: int = Field(600, ge=60)
    street_spacing_m: float = Field(110.0, gt=0)
    meters_per_transformer: int = Field(40, ge=1)
    transformers_per_feeder: int = Field(6, ge=1)
    feeders_per_substation: int = Field(4, ge=1)
    substations_per_region: int = Field(2, ge=1)
    #: Share of catalogue meters installed, or removed, inside the generated range.
    meter_churn: float = Field(0.04, ge=0, le=0.5)
    #: Share of feeder-days with a voltage sag or swell (a real grid event, not a meter fault).
    sag_swell_rate: float = Field(0.08, ge=0, le=1)
    #: How long after its interval a late-arriving reading is received.
    late_after_days: int = Field(3, ge=1)

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
    master: str = "local[*]"
    app_name: str = "gridlake"
    driver_memory: str = Field("2g", pattern=r"^\d+[mg]$")
    shuffle_partitions: int = Field(8, ge=1)
    #: Tasks Delta rebuilds a changed table's state with (from its log, before every write).
    snapshot_partitions: int = Field(2, ge=1)
    ui_enabled: bool = False


class LakeConf(_Section):
    root: str = "lake"
    format: LakeFormat = "delta"
    target_file_mb: float = Field(128, gt=0)
    bytes_per_reading: float = Field(8.0, gt=0)
    vacuum_retention_hours: int = Field(168, ge=168)


class CassandraConf(_Section):
    hosts: list[str] = ["127.0.0.1"]
    port: int = Field(9042, ge=1, le=65535)
    keyspace: str = Field("grid", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    replication: dict[str, Any] = {"class": "SimpleStrategy", "replication_factor": 1}
    raw_ttl_days: int = Field(90, ge=0)
    compaction_window_unit: Literal["MINUTES", "HOURS", "DAYS"] = "DAYS"
    compaction_window_size: int = Field(1, ge=1)
    write_concurrency: int = Field(64, ge=1, le=2048)
    read_concurrency: int = Field(128, ge=1, le=2048)
    username: str | None = None
    password: SecretStr | None = None


class ElasticsearchConf(_Section):
    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None


class RedisTlsConf(_Section):
    """TLS towards Redis: on with ``enabled`` or a ``rediss://`` url. The server's certificate is
    checked against ``ca_file`` (the system's CAs when unset); ``cert_file`` and ``key_file``
    present a client certificate when the server asks for one (``tls-auth-clients``)."""

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Check that the certificate names the host connected to (turn off only for IP-less test certs).
    check_hostname: bool = True

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
    """How every Redis client connects: the single server's url, the cluster's seed nodes, an ACL
    user and TLS. The password comes only from the environment (GRIDLAKE_REDIS__PASSWORD)."""

    url: str = "redis://127.0.0.1:6379/0"
    cluster_nodes: list[str] = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
    #: ACL user (Redis 6+); None authenticates as ``default`` when a password is set.
    username: str | None = None
    password: SecretStr | None = None
    tls: RedisTlsConf = RedisTlsConf()
    socket_timeout_s: float = Field(5.0, gt=0)

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
    version: str = "5.0.6"
    heap: str = Field("1g", pattern=r"^\d+[mg]$")


class LocalElasticsearchConf(_Section):
    nodes: int = Field(1, ge=1, le=5)
    heap: str = Field("512m", pattern=r"^\d+[mg]$")


class LocalRedisConf(_Section):
    maxmemory: str = "256mb"


class ServicesConf(_Section):
    start_timeout_s: int = Field(180, ge=5)
    cassandra: LocalCassandraConf = LocalCassandraConf()
    elasticsearch: LocalElasticsearchConf = LocalElasticsearchConf()
    redis: LocalRedisConf = LocalRedisConf()


class VeeConf(_Section):
    """Validation, estimation and editing of meter intervals (jobs/validate_readings.py).

    Gaps are in seconds; streak lengths in intervals. Change ``ruleset_version`` whenever a
    rule or threshold changes: every silver and quarantine row carries it.
    """

    ruleset_version: str = Field("vee-1", min_length=1)
    #: Gaps up to this long with a reading on both sides: linear interpolation.
    max_linear_gap_s: int = Field(3600, ge=0)
    #: Nothing is estimated in a gap longer than this (25 h: a whole local day, DST included).
    max_estimation_gap_s: int = Field(90000, ge=0)
    #: Like-day estimation averages this many nearest earlier days of the same kind (weekday/weekend)...
    like_days: int = Field(3, ge=1)
    #: ...found at most this many days back in silver.
    like_day_lookback_days: int = Field(28, ge=1)
    #: Zeros (no import, no export) in more consecutive intervals than this are SUSPECT.
    zero_streak_max_intervals: int = Field(3, ge=1)
    #: A non-zero import repeated in at least this many consecutive intervals is SUSPECT.
    frozen_min_intervals: int = Field(5, ge=2)
    #: Spike: an interval at least this many times the day's third-highest interval...
    spike_day_factor: float = Field(2.0, gt=1)
    #: ...or one of the day's three highest at least this many times the median of the
    #: ``spike_window_intervals`` on each side, and at least ``spike_min_kwh`` above it.
    spike_local_factor: float = Field(2.2, gt=1)
    spike_window_intervals: int = Field(4, ge=1)
    spike_min_kwh: float = Field(0.05, ge=0)
    #: Voltage outside nominal x (1 +- tolerance) is SUSPECT.
    voltage_tolerance: float = Field(0.10, gt=0, lt=1)
    #: Out-of-range voltages are a feeder's sag or swell when at least this many meters of the
    #: feeder, and this share of those reporting, are out on the same side at the same instant.
    grid_event_min_meters: int = Field(3, ge=1)
    grid_event_share: float = Field(0.5, gt=0, le=1)
    #: A reading whose interval ends later than its receipt plus this is from the future.
    future_tolerance_s: int = Field(300, ge=0)
    #: Received this long after its interval ended: flagged late (still VALID).
    late_after_s: int = Field(86400, ge=0)
    #: Connection capacity per meter class in kW; an interval beyond capacity x hours x
    #: ``impossible_factor`` cannot be real. ``default`` serves classes not listed.
    connection_kw: dict[str, float] = {"residential": 11.0, "commercial": 44.0, "industrial": 250.0,
                                       "prosumer": 11.0, "ev_charging": 50.0, "default": 250.0}
    impossible_factor: float = Field(1.5, ge=1)

    @field_validator("connection_kw")
    @classmethod
    def _has_default(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value:
            raise ValueError("needs a 'default' capacity for meter classes not listed")
        if any(kw <= 0 for kw in value.values()):
            raise ValueError("capacities must be positive")
        return value


class TouBandConf(_Section):
    """One time-of-use band of a tariff: local clock times [start, end) on some kinds of day.

    ``end`` at or before ``start`` wraps past midnight (22:00-07:00); ``start == end`` is the
    whole day. An interval belongs to the first band of its tariff whose days and times hold
    its local start; times are quoted "HH:MM" (YAML reads unquoted 07:00 as a number).
    """

    band: str = Field(min_length=1)
    days: Literal["all", "working", "non_working"] = "all"
    start: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class TouConf(_Section):
    """Time-of-use bands per tariff; a tariff not listed (or no tariff) gets ``default_band``.
    Holidays (local dates) are non-working days, as are Saturdays and Sundays."""

    default_band: str = "flat"
    unbanded: str = "unbanded"
    holidays: list[date] = []
    tariffs: dict[str, list[TouBandConf]] = {}


class VoltageQualityConf(_Section):
    """EN 50160 over a local Monday-to-Sunday week."""

    #: Under this share of the week's 10-minute values the verdict is "insufficient_data".
    min_data_share: float = Field(0.9, ge=0, le=1)
    within_share_required: float = Field(0.95, ge=0, le=1)


class AnomaliesConf(_Section):
    """Meter-days far from their like-day baseline (same day kind, previous weeks)."""

    baseline_weeks: int = Field(4, ge=1, le=52)
    min_baseline_days: int = Field(3, ge=1)
    #: Days (scored and baseline) less complete than this are left out.
    min_completeness: float = Field(0.9, ge=0, le=1)
    #: The scale never goes under this many kWh, so a flat baseline does not make every change infinite.
    scale_floor_kwh: float = Field(0.5, gt=0)
    min_score: float = Field(3.0, ge=0)
    top_n: int = Field(10, ge=1)


class AggregatesConf(_Section):
    """The aggregates job (silver -> gold)."""

    tou: TouConf = TouConf()
    voltage_quality: VoltageQualityConf = VoltageQualityConf()
    anomalies: AnomaliesConf = AnomaliesConf()


class SearchConf(_Section):
    """Search index builds: replicas once built, and how many versions to keep for rollback."""

    replicas: int = Field(0, ge=0)
    keep_versions: int = Field(3, ge=1)


class AirflowConf(_Section):
    """Task policy of the DAGs: retries with exponential backoff, and a time limit per task."""

    retries: int = Field(3, ge=0)
    retry_delay_s: int = Field(300, ge=1)
    max_retry_delay_s: int = Field(3600, ge=1)
    task_timeout_min: int = Field(120, ge=1)
    late_data_days: int = Field(3, ge=0)


class MaintenanceConf(_Section):
    """The weekly grid_maintenance DAG: how long `_runs` rows live."""

    runs_retention_days: int = Field(400, ge=1)


class CacheConf(_Section):
    """The serving cache in Redis: key namespace, lifetimes and the durable copies."""

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

    prefix: str = Field("gridlake", pattern=r"^[a-z][a-z0-9_-]*$")
    ttl_days: int = Field(8, ge=1)
    #: Lifetime per key family (schemas/cache_keys.py), overriding ttl_days.
    family_ttl_days: dict[str, int] = {}
    #: How long the previous version stays readable after a flip.
    grace_s: int = Field(600, ge=0)
    batch_size: int = Field(500, ge=1)
    #: Publish into the Redis Cluster of ``redis.cluster_nodes`` instead of ``redis.url``.
    cluster: bool = False
    #: Meters kept in each feeder's and region's top-consumers sorted set.
    top_consumers: int = Field(20, ge=1)
    #: write-through: the publish writes Cassandra's durable copies itself, before the flip;
    #: write-behind: it appends them to a Redis Stream that `gridlake writeback run` drains.
    durable_mode: Literal["write-through", "write-behind"] = "write-through"
    #: Write-behind worker: deliveries before an entry goes to the dead-letter stream, and how
    #: long an entry must sit unacknowledged before another worker reclaims it.
    writeback_max_deliveries: int = Field(5, ge=1)
    writeback_claim_idle_ms: int = Field(30_000, ge=0)


class Settings(BaseSettings):
    """The whole configuration of one gridlake process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    env: str = "local"
    state_dir: Path = Path(".gridlake")
    java_home: Path = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    maven_repo: Path | None = None
    grid: GridConf = GridConf()
    spark: SparkConf = SparkConf()
    lake: LakeConf = LakeConf()
    cassandra: CassandraConf = CassandraConf()
    elasticsearch: ElasticsearchConf = ElasticsearchConf()
    redis: RedisConf = RedisConf()
    services: ServicesConf = ServicesConf()
    cache: CacheConf = CacheConf()
    search: SearchConf = SearchConf()
    airflow: AirflowConf = AirflowConf()
    maintenance: MaintenanceConf = MaintenanceConf()
    vee: VeeConf = VeeConf()
    aggregates: AggregatesConf = AggregatesConf()

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
    if not env_file.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"environment {env!r} has no {env_file.name} in {conf_dir} (known: {', '.join(known)})")
    layered = _deep_merge(_read_yaml(base_file), _read_yaml(env_file))
    layered["env"] = env
    try:
        return Settings(**layered)
    except ValidationError as exc:
        raise ConfigError("configuration: " + "; ".join(_describe(e) for e in exc.errors())) from None
