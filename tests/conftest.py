"""Shared fixtures: test settings, one local SparkSession, and the real local services.

Services are started by the same code as `gridlake services up` (already running ones are
reused) and left running after the session, so the next run starts at once; `make down`
stops them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.runtime.config import PROJECT_ROOT, Settings, load_settings
from jobs.runtime.spark import spark_session


# Airflow keeps its home (config, logs) inside the project's state dir, never in ~/airflow,
# and reads the project's DAGs. Both before anything imports Airflow: it fixes its DAG folder
# at import time.
os.environ.setdefault("AIRFLOW_HOME", str(PROJECT_ROOT / ".gridlake" / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The `test` environment, with the lake (and Spark's warehouse) in a temp dir."""
    loaded = load_settings("test")
    loaded.lake.root = str(tmp_path_factory.mktemp("lake"))
    return loaded


@pytest.fixture(scope="session")
def spark(settings: Settings) -> Iterator[SparkSession]:
    """local[1], one shuffle partition, no UI: see conf/test.yaml."""
    session = spark_session(settings, app_name="gridlake-tests")
    yield session
    session.stop()


@pytest.fixture(autouse=True, scope="module")
def _release_spark_memory() -> Iterator[None]:
    """After each module, drop what the one test session caches for tables it will not read
    again: cached DataFrames and Delta's logs of the module's scratch lakes, which otherwise
    pile up over the run."""
    yield
    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()
        session._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Settings:
    """Cassandra, Elasticsearch, Redis, the Redis Cluster and memcached, up and answering."""
    from jobs.devstack import local_services, services_up

    services_up(local_services(settings, redis_cluster=True, memcached=True), settings.services.start_timeout_s)
    return settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/integration need the services: mark them so they can be selected."""
    for item in items:
        if Path(item.fspath).parent.name == "integration":
            item.add_marker(pytest.mark.integration)
