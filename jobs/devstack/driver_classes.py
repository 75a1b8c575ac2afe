"""A class-data-sharing archive of the Spark driver's classes, so that a fresh driver starts sooner.

Every Airflow task (one spark-submit each), CLI run and notebook starts a new driver JVM, which
loads and verifies some 20,000 classes (Spark, Delta, the Cassandra connector) before it does
any work. Java's dynamic CDS archive maps them from one file instead (about 5 s sooner a
driver: docs/benchmarks.md).

Java 17 cannot make the archive by itself as a side effect of an ordinary run
(``-XX:+AutoCreateSharedArchive`` came in Java 19), so ``make_archive`` does a training run:
a driver started with ``-XX:ArchiveClassesAtExit`` runs a small lake workload, and its archive,
dumped as that JVM exits, moves into place only once the JVM has exited cleanly, so no driver
maps a half-written file. Drivers then pick it up through ``driver_java_options``
(jobs/runtime/spark.py); its name follows the jars and the Java runtime, so after a change of either
there is simply no archive until the next ``gridlake spark-archive`` (run by ``make setup``),
which also removes the archives of earlier jars or runtimes (about 160 MiB each; no driver
maps them again).
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date
from pathlib import Path

from pyspark import SparkContext
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from jobs.runtime.config import Settings
from jobs.runtime.spark import QUIET_CDS, class_archive, spark_session
from jobs.stores.lake import LakeTableRef

log = logging.getLogger(__name__)

_DAY = date(2024, 5, 6)
#: How long the training driver may take to write its archive as it exits.
_DUMP_TIMEOUT_S = 600


def exercise(spark: SparkSession, lake_root: str) -> None:
    """What the jobs' drivers do most, on a few thousand rows: a partition replaced in each lake
    format, read back, aggregated, windowed, joined and collected (also through Arrow)."""
    readings = spark.range(4 * 96).select(
        F.format_string("MTR-%07d", F.col("id") % 4).alias("meter_id"),
        F.timestamp_seconds(F.lit(1_714_953_600) + (F.col("id") / 4).cast("long") * 900).alias("ts"),
        (F.rand(7) * 2).cast("decimal(9,3)").alias("kwh_import"),
        F.lit(_DAY).alias("date"))
    for table_format in ("delta", "parquet", "orc"):
        table = LakeTableRef(spark, lake_root, f"readings_{table_format}", table_format)
        table.replace_partition(readings.repartitionByRange(2, "meter_id", "ts").sortWithinPartitions("meter_id", "ts"),
                                _DAY, stats_columns=("meter_id", "ts"))
        day = table.read_partition(_DAY, readings.schema)
        daily = day.groupBy("meter_id").agg(F.sum("kwh_import").alias("kwh"), F.max("kwh_import").alias("peak"))
        ranked = day.withColumn("n", F.row_number().over(Window.partitionBy("meter_id").orderBy(F.desc("kwh_import"))))
        ranked.where("n = 1").join(daily, "meter_id").collect()
        daily.toPandas()


def _remove_stale_archives(archive: Path) -> None:
    """Delete the archives of the other builds beside ``archive``'s (a driver already running
    on one keeps its mapping)."""
    for stale in archive.parent.parent.glob("*/driver-classes-*.jsa"):
        if stale != archive:
            stale.unlink()
            log.info("stage=driver-classes removed=%s", stale)


def make_archive(settings: Settings) -> Path | None:
    """Make the driver's class archive unless it exists; return where it is (None when this Java
    runtime does not say its version). Runs the training driver in this process, which must not
    have a Spark session yet."""
    archive = class_archive(settings)
    if archive is None:
        return None
    _remove_stale_archives(archive)
    if archive.is_file():
        return archive
    if SparkContext._active_spark_context is not None:
        raise RuntimeError("the driver class archive is made by a process of its own, before any Spark session")
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    spark = spark_session(settings, app_name="gridlake-driver-classes",
                          java_options=f"-XX:ArchiveClassesAtExit={partial} {QUIET_CDS}")
    with tempfile.TemporaryDirectory(prefix="gridlake-driver-classes-") as lake_root:
        exercise(spark, lake_root)
        driver = spark.sparkContext._gateway.proc
        spark.stop()
        driver.stdin.close()  # the driver exits once its Python side is gone, dumping the archive
        exit_code = driver.wait(timeout=_DUMP_TIMEOUT_S)
    if exit_code != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"the training driver exited with {exit_code} and left no class archive at {partial}")
    partial.replace(archive)
    log.info("stage=driver-classes archive=%s bytes=%d", archive, archive.stat().st_size)
    return archive
