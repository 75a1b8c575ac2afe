"""Spark reads and writes Cassandra through the real spark-cassandra-connector."""

from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.devstack import stack_check as check_stack
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client
from jobs.runtime.config import Settings
from jobs.stores.cassandra_tables import forget_cassandra_schema
from schemas.cassandra import STACK_CHECK_TABLE, keyspace_cql, stack_check_table_cql


def test_connector_round_trips_rows(services: Settings, spark: SparkSession) -> None:
    keyspace = services.cassandra.keyspace
    with cassandra_session(services) as session:
        session.execute(keyspace_cql(keyspace, services.cassandra.replication))
        session.execute(stack_check_table_cql(keyspace))
        session.execute(f"DELETE FROM {keyspace}.{STACK_CHECK_TABLE} WHERE meter_id = 'rt-1' AND day = '2024-10-27'")
    written = [
        ("rt-1", date(2024, 10, 27), datetime(2024, 10, 27, 0, 0), Decimal("0.250")),
        ("rt-1", date(2024, 10, 27), datetime(2024, 10, 27, 0, 15), Decimal("0.000")),
        ("rt-1", date(2024, 10, 27), datetime(2024, 10, 27, 0, 30), Decimal("12.345")),
    ]
    forget_cassandra_schema(spark)
    frame = spark.createDataFrame(written, "meter_id string, day date, ts timestamp, kwh_import decimal(12,3)")
    options = {"keyspace": keyspace, "table": STACK_CHECK_TABLE}
    frame.write.format("org.apache.spark.sql.cassandra").options(**options).mode("append").save()

    read = (spark.read.format("org.apache.spark.sql.cassandra").options(**options).load()
            .where((F.col("meter_id") == "rt-1") & (F.col("day") == F.lit(date(2024, 10, 27)))))
    assert sorted(tuple(r) for r in read.select("meter_id", "day", "ts", "kwh_import").collect()) == written
    # The partition-key filter is pushed down to Cassandra rather than applied after a scan.
    plan = read._jdf.queryExecution().executedPlan().toString()
    assert '"meter_id" = ?, rt-1' in plan and '"day" = ?, 2024-10-27' in plan


def test_stack_check_reaches_every_store(services: Settings) -> None:
    lines = check_stack.main(services)
    assert len(lines) == 6
    # 96 intervals of 0.100 kWh + i Wh: 96 * 0.1 + (0 + ... + 95) / 1000 = 9.6 + 4.56.
    assert "(14.160 kWh)" in lines[1]
    es = elasticsearch_client(services)
    document = es.get(index=check_stack.SEARCH_INDEX, id=f"{check_stack.CHECK_METER}/2024-01-15")["_source"]
    assert document["kwh_import"] == 14.16
    assert b'"kwh_import": 14.16' in redis_client(services).get(check_stack.REDIS_KEY)
