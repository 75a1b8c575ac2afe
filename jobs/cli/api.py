"""`gridlake serve` (the serving API on uvicorn, configured from conf like every command) and
`gridlake try-api` (three of its URLs, fetched once)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from jobs.cli.common import EnvOption, console, fail, settings_for

#: The key conf/local.yaml lets read every meter, for the demo (only its SHA-256 is there).
DEMO_KEY = "gridlake-demo-key"


def serve_command(env: EnvOption = None,
                  host: Annotated[str | None, typer.Option(help="Address (default: api.host).")] = None,
                  port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
                  workers: Annotated[int | None, typer.Option(help="Worker processes (default: api.workers).")] = None,
                  data_version: Annotated[str | None, typer.Option(
                      help="live, or candidate: a day's candidate version where there is one "
                           "(default: api.data_version).")] = None,
                  ) -> None:
    """Serve the published figures over HTTP (OpenAPI at /docs) until stopped."""
    import uvicorn

    settings = settings_for(env)
    if env:
        os.environ["GRIDLAKE_ENV"] = env  # each worker loads the same configuration
    if data_version is not None:
        if data_version not in ("live", "candidate"):
            fail(f"--data-version: {data_version!r} is neither live nor candidate")
        os.environ["GRIDLAKE_API__DATA_VERSION"] = data_version
    host, port = host or settings.api.host, port or settings.api.port
    console.print(f"serving on http://{host}:{port}/v1/ (OpenAPI: /docs)", soft_wrap=True)
    uvicorn.run("jobs.api.app:create_app", factory=True, host=host, port=port,
                workers=workers or settings.api.workers, log_level="warning", access_log=False)


def try_api_command(meter: Annotated[str, typer.Option(help="A meter id to read.")],
                    date_: Annotated[str, typer.Option("--date", help="A published local day, YYYY-MM-DD.")],
                    key: Annotated[str, typer.Option(help="An API key allowed to read the meter.")] = DEMO_KEY,
                    near: Annotated[str, typer.Option(help="LAT,LON of the search.")] = "41.3275,19.8187",
                    edge: Annotated[bool, typer.Option("--edge", help="Through the edge (HTTPS), not the API "
                                                                          "itself.")] = False,
                    env: EnvOption = None) -> None:
    """Print three URLs of the running API (a meter's day, a search with facets, a Green Button
    feed) and fetch each once: what a user of `gridlake serve` can open."""
    import ssl
    import urllib.error
    import urllib.request

    settings = settings_for(env)
    base = f"http://{settings.api.host}:{settings.api.port}"
    context: ssl.SSLContext | None = None
    trust = ""
    if edge:
        from jobs.devstack.edge_server import EdgeServer

        server = EdgeServer(settings)
        base, context = server.base_url, server.client_context()
        _, _, ca = server.tls_files()
        trust = f" --cacert {ca}" if ca is not None else ""
    month_start = date_[:8] + "01"
    tour = [("a meter's day", f"{base}/v1/meters/{meter}/days/{date_}", True),
            ("a search with facets", f"{base}/v1/search?near={near}&radius=1km&limit=3", False),
            ("a Green Button feed",
             f"{base}/espi/1_1/resource/Batch/UsagePoint/{meter}?start={month_start}&end={date_}", True)]
    failed = False
    for what, url, personal in tour:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if personal else {})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                body, status = response.read(), response.status
                served = response.headers.get("X-Served-From", "-")
        except urllib.error.HTTPError as error:
            body, status, served, failed = error.read(), error.code, "-", True
        except OSError as error:
            fail(f"{url}: {error} (is the API running? `gridlake services up --api`, or `--edge` for the edge)")
        header = ' -H "Authorization: Bearer ' + key + '"' if personal else ""
        console.print(f"{what}: curl{trust}{header} '{url}'", soft_wrap=True, highlight=False)
        console.print(f"  -> {status}, {len(body):,} bytes, served from {served}", highlight=False)
    if failed:
        raise typer.Exit(1)
