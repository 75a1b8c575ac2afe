"""Extract reads exactly one date's partitions from Cassandra and replaces its bronze partition."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cassandra.query import ValueSequence
from cassandra.util import Date as CassandraDate
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.stages import compact as compact_partitions
from jobs.stages import extract as extract_readings
from jobs.pipeline import submit
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.cassandra_writer import write_readings
from jobs.stores.clients import cassandra_session
from jobs.runtime.config import Settings
from jobs.runtime.java import java_environment
from jobs.stores.lake import LakeTableRef
from jobs.stores.runs import RUNS_PATH
from jobs.runtime.spark import package_jars
from jobs.stores.cassandra_tables import forget_cassandra_schema
from schemas.cassandra import DAY_BUCKETS, METER_DAYS, METER_READINGS
from schemas.lake import BRONZE_METER_READINGS, Column
from jobs.stores import cassandra_tables
from schemas import feeds

KEYSPACE = "grid_extract_test"
DAY = date(2024, 10, 15)


def meter_rows(meter_id: str, day: date, intervals: int, source: str = "test") -> list[dict]:
    """``intervals`` quarter hours of ``meter_id`` from local midnight (the test takes UTC = local)."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return [
        {"meter_id": meter_id, "day": day, "ts": start + timedelta(minutes=15 * n), "ingest_id": f"{source}:{n}",
         "interval_s": 900, "kwh_import": Decimal(n) / 1000, "voltage_v": Decimal("230.1"), "source": source,
         "received_at": start + timedelta(days=1)}
        for n in range(intervals)
    ]


@pytest.fixture(scope="module")
def stored(services: Settings, spark: SparkSession) -> Iterator[Settings]:
    """Three days of three meters, one of them with a duplicate version of an interval. The
    session's connector is then made to read the schema afresh, as the extract's main does:
    the tests below read the new keyspace through it directly."""
    settings = services.model_copy(deep=True)
    settings.cassandra.keyspace = KEYSPACE
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
        apply_schema(session, settings)
        rows = []
        for day in (DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)):
            for meter in ("m-1", "m-2", "m-3"):
                rows += meter_rows(meter, day, 96)
        rows += meter_rows("m-2", DAY, 1, source="resent")  # a second version of m-2's first interval
        write_readings(session, KEYSPACE, METER_READINGS, METER_DAYS, rows)
    forget_cassandra_schema(spark)
    yield settings
    with cassandra_session(settings) as session:
        session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")


@pytest.fixture(params=["delta", "parquet", "orc"])
def lake_settings(request: pytest.FixtureRequest, stored: Settings, tmp_path) -> Settings:
    settings = stored.model_copy(deep=True)
    settings.lake.format = request.param
    settings.lake.root = str(tmp_path / "lake")
    return settings


def lineage(frame: DataFrame) -> str:
    """The RDDs a frame's rows come from, one per line, the last read first."""
    return frame._jdf.queryExecution().toRdd().toDebugString()


def test_performance_guard_direct_join_reads_only_the_days_partitions(stored: Settings, spark: SparkSession) -> None:
    feed = feeds.METER_FEED
    frame = cassandra_tables.read_day(spark, stored.cassandra, feed, cassandra_tables.day_keys(spark, KEYSPACE, feed, DAY))
    rdds = lineage(frame)
    assert "CassandraJoinRDD" in rdds, "the readings are read by the connector's direct join"
    assert rdds.count("DataSourceRDD") == 1, f"a table is scanned besides the day index:\n{rdds}"
    # Rows read from Cassandra are the day's rows only.
    assert frame.count() == 3 * 96 + 1


def test_the_reader_decodes_every_column_as_the_python_driver_does(stored: Settings, spark: SparkSession) -> None:
    """gridlake's row reader (jvm/spark/src) against the same rows read by the Python driver."""
    feed = feeds.METER_FEED
    columns = cassandra_tables.stored_columns(feed)
    frame = cassandra_tables.read_day(spark, stored.cassandra, feed, cassandra_tables.day_keys(spark, KEYSPACE, feed, DAY))
    times = {"ts", "received_at"}
    read = sorted(tuple(row) for row in frame.select(
        *[F.unix_micros(column).alias(column) if column in times else column for column in columns]).collect())
    with cassandra_session(stored) as session:
        stored_rows = session.execute(f"SELECT {', '.join(columns)} FROM {KEYSPACE}.meter_readings "
                                      "WHERE day = %s ALLOW FILTERING", (DAY,))
        expected = sorted(tuple(as_spark_collects(value) for value in row) for row in stored_rows)
    assert read == expected
    assert len(read) == 3 * 96 + 1
    assert {row[columns.index("kvarh_x1000")] for row in read} == {None}, "a channel the meters lack stays null"


def as_spark_collects(value: object) -> object:
    """A value as the Python driver returns it, as Spark collects it: dates as dates,
    timestamps as microseconds since the epoch (the driver's are naive UTC)."""
    if isinstance(value, CassandraDate):
        return value.date()
    if isinstance(value, datetime):
        return round(value.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
    return value


def test_the_reader_refuses_a_type_it_does_not_decode(stored: Settings, spark: SparkSession) -> None:
    gateway = spark.sparkContext._gateway
    columns = gateway.new_array(gateway.jvm.String, 1)
    columns[0] = "nominal_voltage_v"
    keys = spark.createDataFrame([("m-1",)], "meter_id string")
    with pytest.raises(Exception, match=f"cannot read {KEYSPACE}.meters.nominal_voltage_v of CQL type decimal"):
        gateway.jvm.org.gridlake.spark.CassandraDayReader.join(keys._jdf, KEYSPACE, "meters", columns, 8)


def test_performance_guard_keys_ranged_before_the_join_and_readings_never_shuffled(stored: Settings,
                                                                                  spark: SparkSession) -> None:
    feed = feeds.METER_FEED
    keys = cassandra_tables.day_keys(spark, KEYSPACE, feed, DAY)
    frame = extract_readings.laid_out_day(spark, stored.cassandra, feed, keys, files=2)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert "Exchange" not in plan, f"the readings are shuffled:\n{plan}"
    rdds = lineage(frame)
    assert "ShuffledRowRDD" in rdds[rdds.index("CassandraJoinRDD"):], f"the keys are not ranged before the join:\n{rdds}"

    bands = [band for band in frame.select("meter_id", "ts").rdd.glom().collect() if band]
    assert len(bands) == 2
    assert sum(len(band) for band in bands) == 3 * 96 + 1
    for band in bands:
        assert [tuple(row) for row in band] == sorted(tuple(row) for row in band), "a band is sorted by meter and time"
    first, second = ({row.meter_id for row in band} for band in bands)
    assert max(first) < min(second), "each band holds its own meters"


def test_extract_replaces_the_partition_and_logs_the_run(lake_settings: Settings, spark: SparkSession) -> None:
    first = extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, DAY)
    again = extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, DAY)
    table = LakeTableRef(spark, lake_settings.lake_root, BRONZE_METER_READINGS.path, lake_settings.lake.format)
    bronze = table.read(BRONZE_METER_READINGS.spark_schema())

    assert (first.rows_read, first.rows_written) == (3 * 96 + 1, 3 * 96 + 1)
    assert again.rows_written == first.rows_written
    assert bronze.count() == 3 * 96 + 1, "a rerun must not append a second copy"
    assert {r.date for r in bronze.select("date").distinct().collect()} == {DAY}
    assert bronze.where("meter_id = 'm-2' AND ingest_id = 'resent:0'").count() == 1
    # kWh sum of one meter-day: (0 + 1 + ... + 95) Wh = 4.560 kWh
    assert bronze.where("meter_id = 'm-1'").agg({"kwh_import": "sum"}).first()[0] == Decimal("4.560")
    # Each channel back at its own resolution (0.1 V), and a channel the meters lack stays null.
    assert {tuple(row) for row in bronze.select("voltage_v", "kvarh").distinct().collect()} == {(Decimal("230.1"), None)}
    assert first.files > 1, "the small test target size must split the partition"
    runs = spark.read.format("delta").load(f"{lake_settings.lake_root}/{RUNS_PATH}")  # any lake format
    assert sorted((r.status, r.rows_read, r.rows_written) for r in runs.collect()) == [("ok", 289, 289)] * 2


def test_late_rows_appear_after_a_rerun(lake_settings: Settings, spark: SparkSession) -> None:
    late_day = DAY + timedelta(days=1)
    extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, late_day)
    with cassandra_session(lake_settings) as session:
        write_readings(session, KEYSPACE, METER_READINGS, METER_DAYS, meter_rows("m-4", late_day, 4, source="late"))
    rerun = extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, late_day)
    assert rerun.rows_written == 3 * 96 + 4


def test_compaction_reduces_files_and_keeps_content(lake_settings: Settings, spark: SparkSession) -> None:
    feed = feeds.METER_FEED
    extract_readings.extract_feed(spark, lake_settings, feed, DAY)
    table = LakeTableRef(spark, lake_settings.lake_root, BRONZE_METER_READINGS.path, lake_settings.lake.format)
    before = sorted(tuple(r) for r in table.read_partition(DAY, BRONZE_METER_READINGS.spark_schema()).collect())

    bigger_files = lake_settings.model_copy(deep=True)
    bigger_files.lake.target_file_mb = 1
    report = compact_partitions.compact_feed(spark, bigger_files, feed, DAY)
    after = sorted(tuple(r) for r in table.read_partition(DAY, BRONZE_METER_READINGS.spark_schema()).collect())

    assert report.before.files > 1
    assert report.after.files == 1
    assert after == before


def test_new_nullable_column_flows_into_new_partitions(lake_settings: Settings, spark: SparkSession) -> None:
    old_day, new_day = DAY - timedelta(days=1), DAY
    extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, old_day)
    with cassandra_session(lake_settings) as session:
        session.execute(f"ALTER TABLE {KEYSPACE}.meter_readings ADD phase text")
        session.execute(f"UPDATE {KEYSPACE}.meter_readings SET phase = 'L2' WHERE meter_id = 'm-1' "
                        f"AND day = '{new_day}' AND ts = '{new_day}T00:00:00Z' AND ingest_id = 'test:0'")
    # This long-lived test session cached the table's metadata before the ALTER (a job run
    # after `schema apply` starts fresh): drop the connector's cached sessions.
    forget_cassandra_schema(spark)
    try:
        widened = replace(feeds.METER_FEED, bronze=replace(
            BRONZE_METER_READINGS, columns=(*BRONZE_METER_READINGS.columns, Column("phase", "string"))))
        extract_readings.extract_feed(spark, lake_settings, widened, new_day)
        table = LakeTableRef(spark, lake_settings.lake_root, BRONZE_METER_READINGS.path, lake_settings.lake.format)
        phases = {(r.date, r.phase) for r in table.read(widened.bronze.spark_schema()).select("date", "phase").collect()}
    finally:
        with cassandra_session(lake_settings) as session:
            session.execute(f"ALTER TABLE {KEYSPACE}.meter_readings DROP phase")
    assert phases == {(old_day, None), (new_day, None), (new_day, "L2")}


def test_a_day_without_data_succeeds_with_zero_rows(lake_settings: Settings, spark: SparkSession) -> None:
    record = extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, date(2020, 1, 1))
    assert (record.status, record.rows_read, record.rows_written) == ("ok", 0, 0)


def test_a_day_cassandra_no_longer_holds_never_empties_its_bronze_partition(lake_settings: Settings,
                                                                            spark: SparkSession) -> None:
    """The day's readings are gone from Cassandra (past raw_ttl_days, or deleted) after it was
    extracted: a rerun fails in one line and keeps the partition, unless allowed to empty it."""
    gone = date(2024, 10, 20)
    with cassandra_session(lake_settings) as session:
        write_readings(session, KEYSPACE, METER_READINGS, METER_DAYS, meter_rows("m-9", gone, 8))
    first = extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, gone)
    with cassandra_session(lake_settings) as session:
        session.execute(f"DELETE FROM {KEYSPACE}.meter_readings WHERE meter_id = 'm-9' AND day = %s", (gone,))
        session.execute(f"DELETE FROM {KEYSPACE}.meter_days WHERE day = %s AND bucket IN %s",
                        (gone, ValueSequence(range(DAY_BUCKETS))))
    table = LakeTableRef(spark, lake_settings.lake_root, BRONZE_METER_READINGS.path, lake_settings.lake.format)

    with pytest.raises(extract_readings.ExtractError) as refused:
        extract_readings.extract_feed(spark, lake_settings, feeds.METER_FEED, gone)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"bronze/meter_readings date={gone}: Cassandra holds no readings")
    assert "--allow-empty" in message
    assert table.read_partition(gone).count() == first.rows_written == 8, "the partition is kept as it was"

    allowed = lake_settings.model_copy(deep=True)
    allowed.lake.allow_empty_replace = True
    emptied = extract_readings.extract_feed(spark, allowed, feeds.METER_FEED, gone)
    assert (emptied.rows_written, table.read_partition(gone).count()) == (0, 0)


def test_missing_cassandra_fails_clearly_and_writes_nothing(stored: Settings, tmp_path) -> None:
    unreachable = stored.model_copy(deep=True)
    unreachable.cassandra.port = 1  # nothing listens on port 1
    unreachable.lake.root = str(tmp_path / "lake")
    with pytest.raises(extract_readings.ExtractError, match=r"Cassandra at 127\.0\.0\.1:1 does not answer"):
        extract_readings.main(unreachable, DAY)
    assert not (tmp_path / "lake").exists()


def test_the_same_job_runs_through_spark_submit(stored: Settings, tmp_path) -> None:
    """As the README runs it: jars and driver options from the CLI."""
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, **java_environment(stored), "GRIDLAKE_ENV": "test", "PYSPARK_PYTHON": sys.executable,
           "GRIDLAKE_CASSANDRA__KEYSPACE": KEYSPACE, "GRIDLAKE_LAKE__ROOT": str(tmp_path / "lake")}
    options = subprocess.run([str(venv_bin / "gridlake"), "spark-driver-options"], env=env, capture_output=True,
                             text=True, timeout=120, check=True).stdout.strip()
    submitted = subprocess.run(
        [str(venv_bin / "spark-submit"), "--master", "local[1]", "--jars", ",".join(package_jars(stored)),
         "--driver-java-options", options, str(Path(submit.__file__)), "extract", "--date", DAY.isoformat()],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    assert "INFO SparkContext" not in submitted.stderr, "the driver runs on gridlake's log configuration"
    meter_line = next(line for line in submitted.stdout.splitlines() if "table=bronze/meter_readings" in line)
    assert "status=ok" in meter_line and "rows_written=289" in meter_line
