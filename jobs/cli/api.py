"""`gridlake serve`: the serving API on uvicorn, configured from conf like every command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from jobs.cli.common import EnvOption, console, settings_for


def serve_command(env: EnvOption = None,
                  port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
                  workers: Annotated[int | None, typer.Option(help="Worker processes (default: api.workers).")] = None,
                  ) -> None:
    """Serve the published figures over HTTP (OpenAPI at /docs) until stopped."""
    import uvicorn

    settings = settings_for(env)
    if env:
        os.environ["GRIDLAKE_ENV"] = env  # each worker loads the same configuration
    port = port or settings.api.port
    console.print(f"serving on http://{settings.api.host}:{port}/v1/ (OpenAPI: /docs)", soft_wrap=True)
    uvicorn.run("jobs.api.app:create_app", factory=True, host=settings.api.host, port=port,
                workers=workers or settings.api.workers, log_level="warning", access_log=False)
