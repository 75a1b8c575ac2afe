"""Local memcached from Debian's package: the serving API's optional tier for hot keys.

Listens on 127.0.0.1 only, UDP off, with bounded memory (``services.memcached``). A memcached
already on the port that gridlake did not start is neither used nor stopped.
"""

from __future__ import annotations

import os
import shutil

from jobs.devstack.base import ServiceStatus
from jobs.devstack.process import ManagedProcess, ServiceError, ensure_port_free_for, wait_until
from jobs.runtime.config import Settings
from jobs.stores.hot_keys import server_stats

HOST = "127.0.0.1"


class MemcachedServer:
    """One memcached process on loopback."""

    name = "memcached"

    def __init__(self, settings: Settings) -> None:
        self.port = settings.services.memcached.port
        self.memory_mb = settings.services.memcached.memory_mb
        # The arguments gridlake starts it with, in this order, mark the process as ours.
        self.argv_tail = ["-l", HOST, "-p", str(self.port), "-U", "0", "-m", str(self.memory_mb), "-c", "1024",
                          # memcached refuses root unless told the user to run as (CI runs as root).
                          *(["-u", "root"] if os.geteuid() == 0 else [])]
        self.process = ManagedProcess(name=self.name, run_dir=settings.state_path / "run",
                                      log_file=settings.state_path / "logs" / "memcached.log",
                                      marker=" ".join(self.argv_tail))

    def _version(self) -> str:
        return server_stats(f"{HOST}:{self.port}")["version"]

    def launch(self) -> None:
        if self.process.pid() is not None:
            return
        binary = shutil.which("memcached")
        if binary is None:
            raise ServiceError("memcached: not found; run `make setup` (installs Debian's memcached)")
        ensure_port_free_for(self.process, HOST, self.port, "GRIDLAKE_SERVICES__MEMCACHED__PORT")
        self.process.start([binary, *self.argv_tail])

    def wait_ready(self, timeout_s: float) -> float:
        return wait_until(lambda: bool(self._version()), self.process, timeout_s, "version")

    def status(self) -> ServiceStatus:
        address = f"{HOST}:{self.port}"
        pid = self.process.pid()
        try:
            version = self._version()
        except (OSError, TimeoutError) as exc:
            return ServiceStatus(self.name, False, address, detail=str(exc), pid=pid, log=str(self.process.log_file))
        return ServiceStatus(self.name, pid is not None, address, version=version,
                             detail="" if pid is not None else "not started by gridlake", pid=pid,
                             resident_mib=self.process.resident_bytes() // 2**20, log=str(self.process.log_file))

    def stop(self) -> bool:
        return self.process.stop()
