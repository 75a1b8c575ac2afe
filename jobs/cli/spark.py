"""`gridlake spark-jars`, `spark-driver-options` and `spark-archive`: what a Spark driver of gridlake needs."""

from __future__ import annotations

import sys
import time

from jobs.cli.common import EnvOption, console, settings_for


def spark_jars_command(env: EnvOption = None) -> None:
    """Print the comma-separated jars for `spark-submit --jars` (Cassandra connector, Delta)."""
    from jobs.runtime.spark import package_jars

    sys.stdout.write(",".join(package_jars(settings_for(env))) + "\n")


def spark_driver_options_command(env: EnvOption = None) -> None:
    """Print the JVM options for `spark-submit --driver-java-options`: the log configuration,
    collector and class archive every Spark driver gridlake starts itself gets."""
    from jobs.runtime.spark import driver_java_options

    sys.stdout.write(driver_java_options(settings_for(env)) + "\n")


def spark_archive_command(env: EnvOption = None) -> None:
    """Make the Spark driver's class-data-sharing archive (once per jars and Java; make setup
    runs it): every later driver JVM starts a few seconds sooner."""
    from jobs.devstack.driver_classes import make_archive

    started = time.perf_counter()
    archive = make_archive(settings_for(env))
    if archive is None:
        console.print("no archive: the Java runtime does not say its version (JAVA_HOME/release)")
        return
    console.print(f"driver class archive: {archive} ({archive.stat().st_size / 2**20:,.0f} MiB, "
                  f"{time.perf_counter() - started:.1f} s)", soft_wrap=True)
