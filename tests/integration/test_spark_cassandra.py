"""Spark reads and writes Cassandra through the real spark-cassandra-connector."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from cassandra import Unavailable
from cassandra.cluster import NoHostAvailable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.devstack import stack_check as check_stack
from jobs.stores.cache_durable import DurableCopies
from jobs.stores.cache_versions import CacheEntry, new_version
from jobs.stores.cassandra_schema import apply_schema
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client
from jobs.runtime.config import Settings
from jobs.stores.cassandra_tables import forget_cassandra_schema
from schemas.cache_keys import METER_DAILY
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


def test_the_configured_consistency_levels_reach_the_driver_and_spark(services: Settings,
                                                                      spark: SparkSession) -> None:
    """One node cannot give THREE replicas: a level of THREE fails each kind of request it
    reaches, which shows the level was sent (the driver's answer, after trying every host,
    wraps Cassandra's Unavailable); the defaults work on one node."""
    keyspace = services.cassandra.keyspace
    three_writes, three_reads = services.model_copy(deep=True), services.model_copy(deep=True)
    three_writes.cassandra.write_consistency = "THREE"
    three_reads.cassandra.read_consistency = "THREE"
    select = f"SELECT meter_id FROM {keyspace}.{STACK_CHECK_TABLE} LIMIT 1"
    copy = CacheEntry(METER_DAILY, {"meter_id": "cl-1", "date": "2024-10-27"}, '{"figures":{}}')
    with cassandra_session(services) as session:
        session.execute(keyspace_cql(keyspace, services.cassandra.replication))
        session.execute(stack_check_table_cql(keyspace))
        apply_schema(session, services)
        session.execute(select)
        DurableCopies(session, keyspace).write(new_version(date(2024, 10, 27)), [copy])
    with cassandra_session(three_writes) as session:
        session.execute(select)  # reads stay at the read level
        with pytest.raises((Unavailable, NoHostAvailable), match="THREE"):
            DurableCopies(session, keyspace).write(new_version(date(2024, 10, 27)), [copy])
    with cassandra_session(three_reads) as session, pytest.raises((Unavailable, NoHostAvailable), match="THREE"):
        session.execute(select)

    assert spark.conf.get("spark.cassandra.input.consistency.level") == services.cassandra.read_consistency
    assert spark.conf.get("spark.cassandra.output.consistency.level") == services.cassandra.write_consistency
    spark.conf.set("spark.cassandra.input.consistency.level", "THREE")
    try:
        with pytest.raises(Exception, match="THREE"):  # noqa: PT011 - the connector's error, wrapped by py4j
            spark.read.format("org.apache.spark.sql.cassandra").options(
                keyspace=keyspace, table=STACK_CHECK_TABLE).load().limit(1).collect()
    finally:
        spark.conf.set("spark.cassandra.input.consistency.level", services.cassandra.read_consistency)
