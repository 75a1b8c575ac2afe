"""The one SparkSession factory used by every job, notebook and test.

It wires in the spark-cassandra-connector (with its SQL extensions and catalog) and Delta
Lake (extensions and catalog). Their jars are Maven artifacts that Spark resolves through
Ivy into the configured cache, so only the first run downloads them.
"""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from jobs.config import Settings
from jobs.java import java_environment

SQL_EXTENSIONS = (
    "io.delta.sql.DeltaSparkSessionExtension",
    "com.datastax.spark.connector.CassandraSparkExtensions",
)


def spark_session(settings: Settings, app_name: str | None = None) -> SparkSession:
    """Return the SparkSession for ``settings`` (an existing one is reused by Spark)."""
    # pyspark starts its JVM from JAVA_HOME: pin it before the gateway launches.
    os.environ.update({k: v for k, v in java_environment(settings).items() if k in ("JAVA_HOME", "PATH")})
    state = settings.state_path
    spark = settings.spark
    builder = (
        SparkSession.builder.master(spark.master)
        .appName(app_name or spark.app_name)
        .config("spark.driver.memory", spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(spark.shuffle_partitions))
        .config("spark.ui.enabled", str(spark.ui_enabled).lower())
        .config("spark.sql.session.timeZone", "UTC")
        # Delta rebuilds table state with 50 tasks by default: far too many for small local tables.
        .config("spark.databricks.delta.snapshotPartitions", str(spark.shuffle_partitions))
        .config("spark.jars.packages", ",".join(spark.packages))
        .config("spark.jars.ivy", os.path.expanduser(spark.ivy_dir))
        .config("spark.sql.extensions", ",".join(SQL_EXTENSIONS))
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.catalog.cassandra", "com.datastax.spark.connector.datasource.CassandraCatalog")
        .config("spark.cassandra.connection.host", ",".join(settings.cassandra.hosts))
        .config("spark.cassandra.connection.port", str(settings.cassandra.port))
        .config("spark.sql.warehouse.dir", f"{settings.lake_root}/_warehouse")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={state / 'derby'}")
    )
    if settings.cassandra.username:
        builder = builder.config("spark.cassandra.auth.username", settings.cassandra.username)
    if settings.cassandra.password:
        builder = builder.config("spark.cassandra.auth.password", settings.cassandra.password.get_secret_value())
    state.mkdir(parents=True, exist_ok=True)
    return builder.getOrCreate()
