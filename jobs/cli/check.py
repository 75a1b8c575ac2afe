"""`gridlake run smoke`: the stack check, touching every part of the stack once."""

from __future__ import annotations

from jobs.cli.common import EnvOption, console, settings_for


def run_smoke_command(env: EnvOption = None) -> None:
    """Touch every part of the stack once: Cassandra via Spark, Delta, Parquet, Elasticsearch, Redis."""
    from jobs.devstack import stack_check as check_stack

    settings = settings_for(env)
    for line in check_stack.main(settings):
        console.print(f"[green]✓[/] {line}", highlight=False)
