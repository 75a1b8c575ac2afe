"""The one SparkSession factory used by every job, notebook and test.

It wires in the spark-cassandra-connector (with its SQL extensions and catalog) and Delta
Lake (extensions and catalog). Their jars are resolved by Maven from jvm/spark/pom.xml into
the local repository and handed over as ``spark.jars``: only the first session downloads,
later ones start offline, and the same pom pins the versions for every job and notebook.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

from jobs.runtime.config import PROJECT_ROOT, Settings
from jobs.runtime.java import java_environment, java_runtime_version
from jobs.runtime.maven import build_location, maven_classpath

# py4j logs every gateway connection it opens and closes at INFO: noise in a job's log under
# Airflow's INFO handlers, and at interpreter exit a "Logging error" on an already closed stream.
logging.getLogger("py4j").setLevel(logging.WARNING)

SPARK_CONF_DIR = PROJECT_ROOT / "conf" / "spark"
#: the Maven project of Spark's packages and gridlake's own classes for Spark
SPARK_JVM_DIR = PROJECT_ROOT / "jvm" / "spark"
LOG4J_CONF = SPARK_CONF_DIR / "log4j2.properties"
#: gridlake's own classes for Spark (jvm/spark/src), built by the same pom.
GRIDLAKE_JAR = "gridlake-spark.jar"
#: The JVM's class-data-sharing messages (an archive it cannot map, classes it skips) off.
QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"
SQL_EXTENSIONS = (
    "io.delta.sql.DeltaSparkSessionExtension",
    "com.datastax.spark.connector.CassandraSparkExtensions",
)


def spark_conf_is_local(master: str) -> bool:
    """True for the embedded masters (local, local[N], local[*])."""
    return master == "local" or master.startswith("local[")


def spark_home() -> Path:
    """The Spark installation of the pyspark wheel: ``SPARK_HOME`` inside spark-submit, whose
    Python imports pyspark from a zip there, else the installed package's own folder."""
    return Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent).resolve()


def _package_build(settings: Settings) -> tuple[Path, dict[str, str], Path]:
    """The pom of Spark's packages, its build properties and the folder its builds go under."""
    wheel_jars = spark_home() / "jars"
    scala = next(wheel_jars.glob("scala-library-*.jar")).stem.removeprefix("scala-library-")
    properties = {"gridlake.pyspark.jars": str(wheel_jars), "gridlake.spark.version": pyspark.__version__,
                  "gridlake.scala.version": scala}
    return SPARK_JVM_DIR / "pom.xml", properties, settings.state_path / "spark" / "classpath"


def package_jars(settings: Settings) -> list[str]:
    """The jar files of jvm/spark/pom.xml (Cassandra connector, Delta, Jedis) and gridlake's own
    (jvm/spark/src), resolved and built on first use.

    A session started here loads them itself; `spark-submit` needs them on its command line
    (``--jars``, see `gridlake spark-jars`), because its driver JVM is already running when the
    job's code builds the session.
    """
    pom, properties, build_dir = _package_build(settings)
    build = maven_classpath(pom, goals=["package"], properties=properties, build_dir=build_dir,
                            env=java_environment(settings), maven_repo=settings.maven_repo, products=(GRIDLAKE_JAR,))
    return [str(build.output_dir / GRIDLAKE_JAR), *build.classpath.split(":")]


def class_archive(settings: Settings) -> Path | None:
    """Where the driver JVM's class-data-sharing archive lives (jobs/devstack/driver_classes.py): beside
    the build of the jars it holds classes of, named after the Java runtime that made it, so a
    changed pom, pyspark or Java looks for an archive of its own. Found without running Maven;
    None when the Java runtime does not say its version."""
    runtime = java_runtime_version(settings.java_home)
    return build_location(*_package_build(settings)) / f"driver-classes-{runtime}.jsa" if runtime else None


def driver_java_options(settings: Settings) -> str:
    """The JVM options of every Spark driver gridlake starts, in a session or by spark-submit.

    Spark's logging configuration and Derby's home under the state dir; and the parallel
    (throughput) collector instead of G1: a driver is a short batch job on a small heap, so
    pauses do not matter, and G1's concurrent threads compete for the cores. Once made,
    the class-data-sharing archive of jobs/devstack/driver_classes.py, its messages silenced: a driver
    that cannot use it starts as without it.
    """
    options = (f"-Dderby.system.home={settings.state_path / 'derby'} -Dlog4j.configurationFile={LOG4J_CONF.as_uri()} "
               "-XX:+UseParallelGC")
    archive = class_archive(settings)
    if archive is not None and archive.is_file():
        options += f" -XX:SharedArchiveFile={archive} {QUIET_CDS}"
    return options


def spark_session(settings: Settings, app_name: str | None = None, java_options: str = "") -> SparkSession:
    """Return the SparkSession for ``settings`` (an existing one is reused by Spark); a new
    driver JVM also gets ``java_options``."""
    # pyspark starts its JVM from JAVA_HOME: pin it before the gateway launches.
    java_env = java_environment(settings)
    os.environ.update({k: v for k, v in java_env.items() if k in ("JAVA_HOME", "PATH")})
    if spark_conf_is_local(settings.spark.master):
        # A local driver talks only to itself: bind it to loopback. Its Python workers run
        # this interpreter (the venv's, with pyspark), not whatever python3 is on the PATH.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    state = settings.state_path
    jars = package_jars(settings)
    spark = settings.spark
    builder = (
        SparkSession.builder.master(spark.master)
        .appName(app_name or spark.app_name)
        .config("spark.driver.memory", spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(spark.shuffle_partitions))
        .config("spark.ui.enabled", str(spark.ui_enabled).lower())
        .config("spark.sql.session.timeZone", "UTC")
        # Delta rebuilds table state with 50 tasks by default: far too many for small local tables.
        .config("spark.databricks.delta.snapshotPartitions", str(spark.snapshot_partitions))
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", ",".join(SQL_EXTENSIONS))
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.catalog.cassandra", "com.datastax.spark.connector.datasource.CassandraCatalog")
        .config("spark.cassandra.connection.host", ",".join(settings.cassandra.hosts))
        .config("spark.cassandra.connection.port", str(settings.cassandra.port))
        .config("spark.cassandra.input.consistency.level", settings.cassandra.read_consistency)
        .config("spark.cassandra.output.consistency.level", settings.cassandra.write_consistency)
        .config("spark.sql.warehouse.dir", f"{settings.lake_root}/_warehouse")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.orc.compression.codec", "zstd")
        # Jobs report their own progress; Spark's console bars would garble it.
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"{driver_java_options(settings)} {java_options}".strip())
    )
    if settings.cassandra.username:
        builder = builder.config("spark.cassandra.auth.username", settings.cassandra.username)
    if settings.cassandra.password:
        builder = builder.config("spark.cassandra.auth.password", settings.cassandra.password.get_secret_value())
    state.mkdir(parents=True, exist_ok=True)
    return builder.getOrCreate()


