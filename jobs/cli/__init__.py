"""The `gridlake` command line: local services and the jobs, for ad hoc runs and backfills."""

from __future__ import annotations

import typer

from jobs.cli import airflow, api, cache, check, data, runs, search, services, spark

app = typer.Typer(help="gridlake: batch analytics and lakehouse for smart electricity grids.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)

# Top-level commands, in the order `gridlake --help` lists them.
app.command("seed")(data.seed_command)
app.command("load-real")(data.load_real_command)
app.command("compact")(runs.compact_command)
app.command("runs")(runs.runs_command)
app.command("spark-jars")(spark.spark_jars_command)
app.command("spark-driver-options")(spark.spark_driver_options_command)
app.command("spark-archive")(spark.spark_archive_command)
app.command("backfill")(runs.backfill_command)
app.command("search")(search.search_command)
app.command("serve")(api.serve_command)
app.command("try-api")(api.try_api_command)

# `run smoke` is the stack check; it sits after the stages under `gridlake run`.
runs.run_app.command("smoke")(check.run_smoke_command)

# Command groups, listed after the top-level commands in this order.
app.add_typer(services.services_app, name="services")
app.add_typer(runs.run_app, name="run")
app.add_typer(data.schema_app, name="schema")
app.add_typer(cache.cache_app, name="cache")
app.add_typer(search.index_app, name="index")
app.add_typer(cache.writeback_app, name="writeback")
app.add_typer(airflow.airflow_app, name="airflow")

__all__ = ["app"]
