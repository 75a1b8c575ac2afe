"""`gridlake airflow env|test-day`: Airflow's environment for gridlake's DAGs, and DAG runs without a scheduler."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from jobs.cli.common import DateOption, EndOption, EnvOption, console, errors, fail, parse_dates, settings_for
from jobs.runtime.config import PROJECT_ROOT

airflow_app = typer.Typer(help="Airflow's environment for gridlake's DAGs.", no_args_is_help=True)


@airflow_app.command("env")
def airflow_env_command(
    show_secrets: Annotated[bool, typer.Option(
        "--show-secrets", help="Print the connections' passwords (masked as *** otherwise).")] = False,
    env: EnvOption = None,
) -> None:
    """Print `export` lines for Airflow: the project's DAG folder and the spark_default,
    cassandra_default, elasticsearch_default and redis_default connections from conf
    (`eval "$(gridlake airflow env --show-secrets)"` when the connections have passwords)."""
    import json
    import shlex

    from jobs.pipeline.airflow_tasks import airflow_environment

    masked = []
    for name, value in airflow_environment(settings_for(env)).items():
        if name.startswith("AIRFLOW_CONN_") and not show_secrets and "password" in (body := json.loads(value)):
            value = json.dumps({**body, "password": "***"}, separators=(",", ":"))
            masked.append(name)
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
    if masked:
        errors.print(f"passwords masked in {', '.join(masked)}: --show-secrets prints them", highlight=False)


@airflow_app.command("test-day")
def airflow_test_day_command(date_: DateOption, end: EndOption = None,
                             dag_id: Annotated[str, typer.Option("--dag")] = "grid_daily",
                             env: EnvOption = None) -> None:
    """Run a DAG through Airflow (`dag.test()`, no scheduler) for each local date of a range,
    with the connections from conf; each run's log goes under the state dir's logs."""
    from jobs.pipeline.airflow_tasks import run_day_through_airflow

    settings = settings_for(env)
    known = sorted(path.stem for path in (PROJECT_ROOT / "dags").glob("*.py"))
    if not re.fullmatch(r"[a-z][a-z0-9_]*", dag_id) or dag_id not in known:
        fail(f"--dag {dag_id!r}: not a DAG of dags/ (known: {', '.join(known)})", code=2)
    for day in parse_dates(date_, end, settings.backfill.max_days):
        log_path = settings.state_path / "logs" / "airflow" / f"{dag_id}-{day}.log"
        with console.status(f"{dag_id} {day}: running through Airflow (log: {log_path}) …"):
            state, tasks = run_day_through_airflow(settings, day, log_path, dag_id)
        console.print(f"{dag_id} {day}: [{'green' if state == 'success' else 'red'}]{state}[/]  "
                      + "  ".join(f"{task}={task_state}" for task, task_state in tasks.items()), highlight=False)
        if state != "success":
            fail(f"{dag_id} {day}: run {state}; see {log_path}")
