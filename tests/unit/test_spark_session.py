"""The SparkSession factory wires in Delta and the Cassandra connector."""

from datetime import datetime
from decimal import Decimal

from pyspark.sql import Row, SparkSession
from pyspark.sql.types import DecimalType, StringType, StructField, StructType, TimestampType

from jobs.runtime.config import Settings

READINGS_SCHEMA = StructType([
    StructField("meter_id", StringType(), False),
    StructField("ts", TimestampType(), False),
    StructField("kwh_import", DecimalType(12, 3), True),
])


def test_session_uses_the_test_settings(spark: SparkSession, settings: Settings) -> None:
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.master") == "local[1]"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "1"
    assert spark.conf.get("spark.databricks.delta.snapshotPartitions") == "1"
    assert "com.datastax.spark.connector.CassandraSparkExtensions" in spark.conf.get("spark.sql.extensions")
    assert spark.conf.get("spark.sql.warehouse.dir").endswith(f"{settings.lake.root}/_warehouse")


def test_the_driver_runs_the_parallel_collector(spark: SparkSession) -> None:
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    assert {bean.getName() for bean in beans} == {"PS Scavenge", "PS MarkSweep"}


def test_delta_table_round_trips_rows_and_keeps_history(spark: SparkSession, settings: Settings) -> None:
    path = f"{settings.lake_root}/delta_round_trip"
    first = [("m-1", datetime(2024, 3, 31, 0, 0), Decimal("0.125")), ("m-2", datetime(2024, 3, 31, 0, 15), None)]
    spark.createDataFrame(first, READINGS_SCHEMA).write.format("delta").mode("overwrite").save(path)
    spark.createDataFrame([("m-3", datetime(2024, 3, 31, 0, 30), Decimal("1.000"))], READINGS_SCHEMA) \
        .write.format("delta").mode("append").save(path)

    rows = spark.read.format("delta").load(path).orderBy("meter_id").collect()
    assert rows == [
        Row(meter_id="m-1", ts=datetime(2024, 3, 31, 0, 0), kwh_import=Decimal("0.125")),
        Row(meter_id="m-2", ts=datetime(2024, 3, 31, 0, 15), kwh_import=None),
        Row(meter_id="m-3", ts=datetime(2024, 3, 31, 0, 30), kwh_import=Decimal("1.000")),
    ]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version", "operation").orderBy("version")
    assert [tuple(r) for r in history.collect()] == [(0, "WRITE"), (1, "WRITE")]
