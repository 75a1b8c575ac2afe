"""What Airflow needs from gridlake's conf: its environment and connections, the job package
that spark-submit ships, and the lake tables as assets.

Connections are handed to Airflow as ``AIRFLOW_CONN_*`` environment variables built from
conf (`gridlake airflow env` prints them for a shell; `make demo` and the tests export them),
never written into Airflow's database by hand. The DAG files call these functions only when
a task runs or renders, so parsing a DAG stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from jobs.pipeline import submit
from jobs.runtime.config import PROJECT_ROOT, Settings

#: Airflow connection ids the DAGs use, as the providers name their defaults
SPARK_CONN_ID = "spark_default"
CASSANDRA_CONN_ID = "cassandra_default"
ELASTICSEARCH_CONN_ID = "elasticsearch_default"
REDIS_CONN_ID = "redis_default"
#: the Python packages a Spark job needs on the executors, shipped with --py-files
JOB_PACKAGES = ("jobs", "schemas")


def _secret(value) -> str | None:  # noqa: ANN001 - a SecretStr or None
    return value.get_secret_value() if value is not None else None


def connections(settings: Settings) -> dict[str, dict]:
    """The four connections of the DAGs, in Airflow's JSON connection format, from conf."""
    es = urlsplit(settings.elasticsearch.url)
    cassandra = settings.cassandra
    return {
        # A local master as the embedded default; any cluster's master by changing conf.
        SPARK_CONN_ID: {"conn_type": "spark", "host": settings.spark.master, "extra": {"deploy-mode": "client"}},
        CASSANDRA_CONN_ID: {"conn_type": "cassandra", "host": ",".join(cassandra.hosts), "port": cassandra.port,
                            "schema": cassandra.keyspace, "login": cassandra.username,
                            "password": _secret(cassandra.password), "extra": {"protocol_version": 5}},
        ELASTICSEARCH_CONN_ID: {"conn_type": "elasticsearch", "host": es.hostname, "port": es.port or 9200,
                                "schema": es.scheme, "login": settings.elasticsearch.username,
                                "password": _secret(settings.elasticsearch.password)},
        REDIS_CONN_ID: redis_connection(settings),
    }


def redis_connection(settings: Settings) -> dict:
    """The Redis provider's connection to the Redis the jobs publish into: the single server or,
    with ``cache.cluster``, the Cluster (its nodes as startup nodes); the ACL user and TLS as
    the jobs connect (jobs/stores/clients.py)."""
    conf = settings.redis
    url = urlsplit(conf.url)
    extra: dict = {"db": int(url.path.strip("/") or 0)}
    host, port = url.hostname, url.port or 6379
    if settings.cache.cluster:
        first, _, first_port = conf.cluster_nodes[0].rpartition(":")
        host, port = first, int(first_port)
        extra = {"cluster": True, "startup_nodes": ",".join(conf.cluster_nodes)}
    if conf.tls_on:
        extra |= {"ssl": True, "ssl_check_hostname": conf.tls.check_hostname,
                  **{name: str(path) for name, path in (("ssl_ca_certs", conf.tls.ca_file),
                                                        ("ssl_certfile", conf.tls.cert_file),
                                                        ("ssl_keyfile", conf.tls.key_file)) if path is not None}}
    return {"conn_type": "redis", "host": host, "port": port, "login": conf.username,
            "password": _secret(conf.password), "extra": extra}


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment variables for every Airflow process: spark-submit on the PATH, the
    project's DAGs, no examples, and the connections from conf."""
    # spark-submit (installed with pyspark beside this interpreter) on every Airflow process's PATH
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    env = {
        "PATH": path if bin_dir in path.split(os.pathsep) else os.pathsep.join([bin_dir, path]),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    for conn_id, body in connections(settings).items():
        clean = {key: value for key, value in body.items() if value is not None}
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(clean, separators=(",", ":"))
    return env


def job_package(settings: Settings) -> Path:
    """A zip of the job code (jobs/, schemas/) for spark-submit's ``--py-files``, so the same
    DAG submits to a cluster whose executors do not have gridlake installed. Rebuilt only
    when a source file changes (the name carries a hash of the content)."""
    files = sorted(path for package in JOB_PACKAGES for path in (PROJECT_ROOT / package).rglob("*")
                   if path.is_file() and path.suffix in (".py", ".json", ".cql") and "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    target = settings.state_path / "spark" / f"gridlake-jobs-{digest.hexdigest()[:12]}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(PROJECT_ROOT))
        partial.rename(target)
    return target


def lake_uri(settings: Settings, table_path: str) -> str:
    """A lake table's URI for an Airflow asset (a plain local path becomes file://)."""
    location = f"{settings.lake_root.rstrip('/')}/{table_path}"
    return location if "://" in location else Path(location).resolve().as_uri()


def stage_outputs() -> dict[str, tuple[str, ...]]:
    """The lake tables (paths under the root) each daily stage writes."""
    from schemas import gold
    from schemas.lake import BRONZE_METER_READINGS, BRONZE_SENSOR_READINGS, SILVER_METER_READINGS, SILVER_QUARANTINE

    return {
        "extract": (BRONZE_METER_READINGS.path, BRONZE_SENSOR_READINGS.path),
        "validate": (SILVER_METER_READINGS.path, SILVER_QUARANTINE.path),
        "aggregate": tuple(table.path for table in gold.GOLD_TABLES),
    }


def dag_policy(settings: Settings, cron: str, first_local_day: str) -> dict:
    """What every gridlake DAG shares, as DAG(...) arguments: a schedule whose data interval
    runs from one local ``cron`` time of the grid to the next (23 or 25 hours across DST;
    Airflow 3 runs plain cron strings without an interval), no catch-up, one run at a time,
    the grid's zone as a param, the template macros, and every task's retries with
    exponential backoff and time limit from conf."""
    from datetime import timedelta

    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    zone = settings.grid.timezone
    conf = settings.airflow
    return {
        "schedule": CronDataIntervalTimetable(cron, timezone=zone),
        "start_date": pendulum.parse(first_local_day, tz=zone),
        "catchup": False,
        "max_active_runs": 1,
        "params": {"grid_timezone": zone},
        "user_defined_macros": dag_macros(settings),
        "default_args": {
            "retries": conf.retries,
            "retry_delay": timedelta(seconds=conf.retry_delay_s),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(seconds=conf.max_retry_delay_s),
            "execution_timeout": timedelta(minutes=conf.task_timeout_min),
        },
    }


def dag_macros(settings: Settings) -> dict:
    """Template macros of the DAGs: the grid's local date of an interval, and the jars and job
    package of spark-submit, resolved when a task renders (never when the DAG is parsed)."""
    from jobs.runtime.dates import grid_local_date

    def gridlake_jars() -> str:
        from jobs.runtime.spark import package_jars

        return ",".join(package_jars(settings))

    return {"grid_local_date": grid_local_date, "gridlake_jars": gridlake_jars,
            "gridlake_py_files": lambda: str(job_package(settings))}


def spark_stage_task(settings: Settings, stage: str, application_args: list[str], **kwargs):  # noqa: ANN201
    """A SparkSubmitOperator that runs ``jobs/pipeline/submit.py STAGE ...`` on the ``spark_default``
    connection, with the pinned jars, the job package, a bounded driver heap and the driver
    JVM options of every other session (Spark's logging quietened, the parallel collector)."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    from jobs.runtime.spark import driver_java_options, spark_conf_is_local

    env = {"GRIDLAKE_HOME": str(PROJECT_ROOT)}
    if spark_conf_is_local(settings.spark.master):
        env["SPARK_LOCAL_IP"] = "127.0.0.1"  # a local driver talks only to itself
    return SparkSubmitOperator(
        task_id=stage, pool=stage_pool(stage), conn_id=SPARK_CONN_ID, application=submit.__file__,
        application_args=[stage, *application_args], jars="{{ gridlake_jars() }}",
        py_files="{{ gridlake_py_files() }}", name=f"gridlake-{stage}", driver_memory=settings.spark.driver_memory,
        conf={"spark.driver.extraJavaOptions": driver_java_options(settings)},
        env_vars=env, **kwargs)


def stage_pool(stage: str) -> str:
    """The Airflow pool of ``stage``'s tasks: one slot, so the scheduler never starts a stage while
    another run of it goes (a backfill beside the daily run); the stage's lease on its date
    (jobs/stores/stage_leases.py) still guards runs that start outside Airflow."""
    return f"gridlake_{stage}"


@functools.cache
def migrate_airflow_db(airflow_home: str) -> None:
    """Create or migrate the metadata database of ``airflow_home`` (SQLite under the state dir
    by default) and set the stages' pools, once per process: a range of days runs one
    `airflow db migrate` (3.7 s) and one `airflow pools import`."""
    import subprocess

    from jobs.pipeline.registry import STAGES

    env = {**os.environ, "AIRFLOW_HOME": airflow_home}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    pools = Path(airflow_home) / "gridlake_pools.json"
    pools.write_text(json.dumps({stage_pool(stage): {"slots": 1, "description": f"one {stage} at a time",
                                                     "include_deferred": False} for stage in STAGES}))
    subprocess.run([sys.executable, "-m", "airflow", "pools", "import", str(pools)], env=env, check=True,
                   capture_output=True, timeout=600)


def run_day_through_airflow(settings: Settings, day, log_path: Path, dag_id: str = "grid_daily"):  # noqa: ANN001, ANN201
    """Run ``dag_id`` for the grid's local ``day`` through Airflow's ``dag.test()``, in this
    process and without a scheduler; Airflow's and the tasks' output go to ``log_path``.
    Returns the run's state and each task's state.

    The run's logical date is the local midnight that ends the day: a manual run then gets
    the day as its data interval, as a scheduled run would.
    """
    import contextlib

    import pendulum

    # Airflow fixes its DAG folder when first imported: the environment must be set before.
    os.environ.update(airflow_environment(settings))
    os.environ.setdefault("AIRFLOW_HOME", str(settings.state_path / "airflow"))
    migrate_airflow_db(os.environ["AIRFLOW_HOME"])
    logical = pendulum.datetime(day.year, day.month, day.day, tz=settings.grid.timezone).add(days=1)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, "w") as log, contextlib.ExitStack() as restore:
        # Airflow and spark-submit write to the process's own descriptors: move them, not sys.stdout.
        for fd in (1, 2):
            saved = os.dup(fd)
            restore.callback(os.close, saved)
            restore.callback(os.dup2, saved, fd)
            os.dup2(log.fileno(), fd)
        # As `airflow dags test` does: parse the DAG folder's bundle and serialize it to the
        # database (dag.test() refuses a DAG that is not serialized).
        from airflow.utils.cli import get_bagged_dag

        run = get_bagged_dag(bundle_names=None, dag_id=dag_id).test(logical_date=logical)
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return str(run.state), tasks


def prune_search_versions_via_provider(settings: Settings) -> list[str]:
    """The housekeeping of old and failed search index versions, through the Elasticsearch
    provider's connection (``elasticsearch_default``)."""
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook

    from jobs.stages.housekeeping import prune_search_versions

    return prune_search_versions(ElasticsearchSQLHook(elasticsearch_conn_id=ELASTICSEARCH_CONN_ID).get_conn().es,
                                 settings)


def expire_stale_cache_versions_via_provider(settings: Settings) -> dict[str, int]:
    """The housekeeping of Redis versions that are not live, through the Redis provider's
    connection (``redis_default``)."""
    from airflow.providers.redis.hooks.redis import RedisHook

    from jobs.stages.housekeeping import expire_stale_cache_versions

    return expire_stale_cache_versions(RedisHook(redis_conn_id=REDIS_CONN_ID).get_conn(), settings)


def abort_release_task(settings: Settings, local_date: str) -> None:
    """grid_daily's ``abort``: drop the day's candidates when the release refused or failed,
    then fail, so that the run shows the day was not released."""
    from datetime import date

    from airflow.sdk.exceptions import AirflowFailException

    from jobs.stores.data_release import abort_release

    dropped = abort_release(settings, date.fromisoformat(local_date))
    raise AirflowFailException(f"{local_date}: not released; dropped figures {dropped.version or '(none)'} and "
                               f"search indices {', '.join(dropped.indices) or '(none)'}")
