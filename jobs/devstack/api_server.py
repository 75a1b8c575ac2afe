"""The serving API as a local service: `gridlake serve` in the background, on api.host:api.port
(and, for the edge, each local instance of its live and candidate pools).

It reads the configuration of the environment it was started with, so `services up --api`
serves what the local pipeline published. A process on the port that gridlake did not start
is neither used nor stopped.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from jobs.devstack.base import ServiceStatus
from jobs.devstack.process import ManagedProcess, ensure_port_free_for, wait_until
from jobs.runtime.config import PROJECT_ROOT, Settings


class ApiServer:
    """`gridlake serve` with its uvicorn workers, as one process group: on api.host:api.port,
    or on ``port`` of ``host`` serving ``data_version`` (the edge's pools)."""

    def __init__(self, settings: Settings, host: str | None = None, port: int | None = None,
                 data_version: str = "live") -> None:
        self.settings = settings
        self.host, self.port = host or settings.api.host, port or settings.api.port
        self.name = "api" if self.port == settings.api.port else f"api-{self.port}"
        self.argv = [sys.executable, str(Path(sys.executable).parent / "gridlake"), "serve", "--env", settings.env,
                     "--host", self.host, "--port", str(self.port), "--data-version", data_version]
        self.process = ManagedProcess(name=self.name, run_dir=settings.state_path / "run",
                                      log_file=settings.state_path / "logs" / f"{self.name}.log",
                                      marker=f"gridlake serve --env {settings.env} --host {self.host} "
                                             f"--port {self.port}")

    def _health(self) -> dict:
        with urllib.request.urlopen(f"http://{self.host}:{self.port}/healthz", timeout=2) as response:
            return json.loads(response.read())

    def launch(self) -> None:
        if self.process.pid() is not None:
            return
        ensure_port_free_for(self.process, self.host, self.port, "GRIDLAKE_API__PORT")
        self.process.start(self.argv, cwd=PROJECT_ROOT)

    def wait_ready(self, timeout_s: float) -> float:
        return wait_until(lambda: self._health().get("status") == "ok", self.process, timeout_s, "/healthz")

    def status(self) -> ServiceStatus:
        address = f"{self.host}:{self.port}"
        pid = self.process.pid()
        try:
            healthy = self._health().get("status") == "ok"
        except OSError as exc:
            return ServiceStatus(self.name, False, address, detail=str(exc), pid=pid, log=str(self.process.log_file))
        return ServiceStatus(self.name, healthy and pid is not None, address, version="v1",
                             detail="" if pid is not None else "not started by gridlake", pid=pid,
                             resident_mib=self.process.resident_bytes() // 2**20, log=str(self.process.log_file))

    def stop(self) -> bool:
        return self.process.stop()
