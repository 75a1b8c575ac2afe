"""Stack check: touch every part of gridlake's stack once, end to end, and say what was done.

One meter's day of 15-minute readings goes into Cassandra through the Spark connector, back
out through it, into a Delta and a Parquet table of the lake, its daily total into
Elasticsearch and into Redis. Each step checks what it reads back against what it wrote,
so a green run means the connector, Delta, the servers and the clients all work together.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from jobs.runtime.config import Settings
from jobs.runtime.spark import spark_session
from jobs.stores.cassandra_tables import forget_cassandra_schema
from jobs.stores.clients import cassandra_session, elasticsearch_client, redis_client
from schemas.cassandra import STACK_CHECK_TABLE, keyspace_cql, stack_check_table_cql

log = logging.getLogger(__name__)

CHECK_METER = "stack-check-0001"
CHECK_DAY = date(2024, 1, 15)
INTERVALS_PER_DAY = 96
SEARCH_INDEX = "gridlake-stack-check"
REDIS_KEY = "gridlake:stack_check:{" + CHECK_METER + "}"


class StackCheckError(RuntimeError):
    """A store returned something other than what the check wrote."""


def check_day_readings(spark: SparkSession) -> DataFrame:
    """96 quarter-hour intervals of one meter: 0.100 kWh plus 1 Wh per interval index."""
    return spark.range(INTERVALS_PER_DAY).select(
        F.lit(CHECK_METER).alias("meter_id"),
        F.lit(CHECK_DAY).alias("day"),
        (F.lit(CHECK_DAY).cast("timestamp") + F.make_dt_interval(mins=F.col("id") * 15)).alias("ts"),
        (F.lit(Decimal("0.100")) + F.col("id") / 1000).cast(DecimalType(12, 3)).alias("kwh_import"),
    )


def expected_daily_kwh() -> Decimal:
    """The day's total, computed in plain Python from the same rule as the rows."""
    return sum((Decimal("0.100") + Decimal(i) / 1000 for i in range(INTERVALS_PER_DAY)), Decimal(0))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise StackCheckError(message)


def main(settings: Settings) -> list[str]:
    """Run the check and return one line per step."""
    done: list[str] = []
    keyspace = settings.cassandra.keyspace
    with cassandra_session(settings) as session:
        session.execute(keyspace_cql(keyspace, settings.cassandra.replication))
        session.execute(stack_check_table_cql(keyspace))
        version = session.execute("SELECT release_version FROM system.local").one()[0]
    done.append(f"cassandra {version}: table {keyspace}.{STACK_CHECK_TABLE} ready")

    spark = spark_session(settings, app_name="gridlake-check-stack")
    forget_cassandra_schema(spark)  # the table may be newer than this session's view of it
    readings = check_day_readings(spark)
    cassandra_options = {"keyspace": keyspace, "table": STACK_CHECK_TABLE}
    readings.write.format("org.apache.spark.sql.cassandra").options(**cassandra_options).mode("append").save()
    read_back = (
        spark.read.format("org.apache.spark.sql.cassandra").options(**cassandra_options).load()
        .where((F.col("meter_id") == CHECK_METER) & (F.col("day") == F.lit(CHECK_DAY)))
    )
    # Cassandra's decimal reads back as decimal(38,18): quantise to the meter's Wh again.
    total = read_back.agg(F.sum("kwh_import")).first()[0].quantize(Decimal("0.001"))
    rows = read_back.count()
    _require(rows == INTERVALS_PER_DAY, f"cassandra returned {rows} rows, wrote {INTERVALS_PER_DAY}")
    _require(total == expected_daily_kwh(), f"cassandra total {total} kWh, expected {expected_daily_kwh()}")
    done.append(f"spark {spark.version} wrote and read back {rows} readings through the Cassandra connector "
                f"({total} kWh)")

    for table_format in ("delta", "parquet"):
        path = f"{settings.lake_root}/_stack_check/{table_format}"
        read_back.write.format(table_format).mode("overwrite").save(path)
        lake_rows = spark.read.format(table_format).load(path).count()
        _require(lake_rows == rows, f"{table_format} table at {path} holds {lake_rows} rows, wrote {rows}")
        done.append(f"{table_format} table {path}: {lake_rows} rows")

    document = {"meter_id": CHECK_METER, "date": CHECK_DAY.isoformat(), "kwh_import": float(total)}
    es = elasticsearch_client(settings)
    es.index(index=SEARCH_INDEX, id=f"{CHECK_METER}/{CHECK_DAY}", document=document, refresh="wait_for")
    found = es.search(index=SEARCH_INDEX, query={"term": {"meter_id.keyword": CHECK_METER}})["hits"]["hits"]
    _require(len(found) == 1 and found[0]["_source"] == document, f"elasticsearch returned {found}")
    done.append(f"elasticsearch {es.info()['version']['number']}: indexed and found 1 document in {SEARCH_INDEX}")

    cache = redis_client(settings)
    cache.set(REDIS_KEY, json.dumps(document))
    _require(json.loads(cache.get(REDIS_KEY)) == document, f"redis key {REDIS_KEY} did not round-trip")
    done.append(f"redis {cache.info('server')['redis_version']}: set and read {REDIS_KEY}")
    log.info("stage=check_stack status=ok steps=%d", len(done))
    return done
