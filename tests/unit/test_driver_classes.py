"""A fresh Spark driver maps its classes from the class-data-sharing archive (make setup makes it)."""

import os
import subprocess
import sys
from pathlib import Path

from jobs.runtime.config import PROJECT_ROOT, load_settings
from jobs.runtime.spark import class_archive

FRESH_DRIVER = """
import sys
from jobs.runtime.config import load_settings
from jobs.runtime.spark import spark_session
spark = spark_session(load_settings("test"), java_options=f"-Xlog:class+load:file={sys.argv[1]}")
spark.range(10).selectExpr("id % 3 AS k").groupBy("k").count().collect()
spark.stop()
"""


def test_a_fresh_driver_loads_spark_delta_and_the_connector_from_the_archive(tmp_path: Path) -> None:
    env = {**os.environ, "GRIDLAKE_ENV": "test"}
    archive = class_archive(load_settings("test"))
    stale = archive.parent.parent / "0123456789ab" / archive.name  # an earlier build's
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"an earlier build's archive")
    made = subprocess.run([str(Path(sys.executable).parent / "gridlake"), "spark-archive"], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    assert archive.is_file() and not stale.exists()
    stale.parent.rmdir()
    loads = tmp_path / "class-load.log"
    driver = subprocess.run([sys.executable, "-c", FRESH_DRIVER, str(loads)], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert driver.returncode == 0, driver.stderr[-2000:]

    archived = [line.split()[1] for line in loads.read_text().splitlines()
                if line.endswith("source: shared objects file (top)")]
    assert sum(name.startswith("org.apache.spark.") for name in archived) > 1000
    assert any(name.startswith("io.delta.sql.") for name in archived)
    assert any(name.startswith("com.datastax.spark.connector.") for name in archived)
