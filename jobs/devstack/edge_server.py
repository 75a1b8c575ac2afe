"""The edge: Debian's nginx in front of the API, on loopback, from a configuration rendered
from conf (jobs/devstack/edge_config.py) into ``<state>/edge``.

Every start and every reload first checks the rendered file with ``nginx -t``; a file nginx
refuses is never loaded, and the error names the line. nginx runs in the foreground under
gridlake's process management (``-p`` and ``-e stderr``: a relocated nginx otherwise opens its
compiled-in log path before it reads any configuration), so ``down`` stops only the nginx
gridlake started. ``/docs`` and ``/openapi.json`` are served from disk: copied from a live
API instance at each start.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import urllib.request
from pathlib import Path

from jobs.devstack.base import ServiceStatus
from jobs.devstack.edge_config import EdgePaths, render_edge
from jobs.devstack.local_pki import local_pki
from jobs.devstack.process import ManagedProcess, ServiceError, ensure_port_free_for, wait_until
from jobs.runtime.config import Settings


def nginx_binary() -> str:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        raise ServiceError("edge: nginx not found; run `make setup` (installs Debian's nginx)")
    return binary


class EdgeServer:
    """One nginx (a master and its worker) in front of the API pools."""

    name = "edge"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.edge = settings.edge
        self.paths = EdgePaths(settings.state_path / "edge")
        self.process = ManagedProcess(name=self.name, run_dir=settings.state_path / "run",
                                      log_file=settings.state_path / "logs" / "edge.log",
                                      marker=f"-c {self.paths.conf}")

    @property
    def base_url(self) -> str:
        return f"https://{self.edge.host}:{self.edge.https_port}"

    def tls_files(self) -> tuple[Path, Path, Path | None]:
        """The certificate and key the edge presents, and the CA that issued them when it is the
        local one (None for conf's own certificate)."""
        if self.edge.tls_cert_file and self.edge.tls_key_file:
            return self.edge.tls_cert_file, self.edge.tls_key_file, None
        pki = local_pki(self.paths.pki)
        return pki["server"], pki["server-key"], pki["ca"]

    def client_context(self) -> ssl.SSLContext:
        """A TLS context that trusts the edge's certificate, for probes and tests."""
        _, _, ca = self.tls_files()
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _copy_static(self) -> None:
        """``/docs`` and ``/openapi.json`` from the first live API instance, onto disk."""
        self.paths.static.mkdir(parents=True, exist_ok=True)
        base = f"http://{self.edge.live_pool[0]}"
        for path, file in (("/openapi.json", "openapi.json"), ("/docs", "docs.html")):
            try:
                with urllib.request.urlopen(base + path, timeout=10) as response:
                    (self.paths.static / file).write_bytes(response.read())
            except OSError as exc:
                raise ServiceError(f"edge: cannot copy {path} from the API at {base}: {exc}; start the API first "
                                   "(`gridlake services up --api --edge`)") from exc

    def render(self) -> None:
        """Write the configuration from conf, and check it with ``nginx -t``."""
        for folder in (self.paths.temp, self.paths.cache, self.paths.static):
            folder.mkdir(parents=True, exist_ok=True)
        cert, key, _ = self.tls_files()
        self.paths.conf.write_text(render_edge(self.edge, self.paths, cert, key, as_root=os.geteuid() == 0))
        checked = subprocess.run([nginx_binary(), "-t", "-q", *self._where()], capture_output=True, text=True,
                                 timeout=30)
        if checked.returncode != 0:
            first = next((line for line in checked.stderr.splitlines() if "emerg" in line or "error" in line),
                         checked.stderr.strip())
            raise ServiceError(f"edge: nginx refuses {self.paths.conf}: {first}")

    def _where(self) -> list[str]:
        return ["-p", str(self.paths.prefix), "-e", "stderr", "-c", str(self.paths.conf)]

    def launch(self) -> None:
        """Start nginx, or reload a running one with the configuration rendered anew."""
        self._copy_static()
        self.render()
        pid = self.process.pid()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)  # nginx re-reads its configuration; running requests finish
            return
        for port, key in ((self.edge.https_port, "GRIDLAKE_EDGE__HTTPS_PORT"),
                          (self.edge.http_port, "GRIDLAKE_EDGE__HTTP_PORT")):
            ensure_port_free_for(self.process, self.edge.host, port, key)
        self.process.start([nginx_binary(), *self._where(), "-g", "daemon off;"])

    def _health(self) -> bool:
        with urllib.request.urlopen(f"{self.base_url}/edge-health", timeout=2,
                                    context=self.client_context()) as response:
            return response.status == 200

    def wait_ready(self, timeout_s: float) -> float:
        return wait_until(self._health, self.process, timeout_s, "/edge-health over TLS", interval_s=0.2)

    def status(self) -> ServiceStatus:
        address = f"{self.edge.host}:{self.edge.https_port}"
        pid = self.process.pid()
        try:
            healthy = self._health()
        except OSError as exc:
            return ServiceStatus(self.name, False, address, detail=str(exc), pid=pid, log=str(self.process.log_file))
        return ServiceStatus(self.name, healthy and pid is not None, address, version=_nginx_version(),
                             detail="" if pid is not None else "not started by gridlake", pid=pid,
                             resident_mib=self.process.resident_bytes() // 2**20, log=str(self.process.log_file))

    def stop(self) -> bool:
        return self.process.stop()


def _nginx_version() -> str:
    shown = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, timeout=10).stderr
    return shown.strip().rpartition("/")[2]
