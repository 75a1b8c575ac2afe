"""Background server processes owned by gridlake, tracked by pid file.

A pid file alone is not proof of ownership (pids are reused), so a process counts as ours
only while the pid is alive and its command line still carries the marker it was started
with. ``stop`` signals only such processes: gridlake never stops a server it did not start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped; the message says which."""


@dataclass(frozen=True)
class ManagedProcess:
    """One server process: its name, pid file, log file and ownership marker."""

    name: str
    run_dir: Path
    log_file: Path
    marker: str

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The pid of our live process, or None when it is not running."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = " ".join(psutil.Process(pid).cmdline())
        except (FileNotFoundError, ValueError, psutil.Error):
            return None
        return pid if self.marker in cmdline else None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start ``argv`` detached in its own session, output appended to the log file."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        self._await_own_command_line(proc)
        return proc.pid

    def _await_own_command_line(self, proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
        """Wait until ``proc`` shows its new command line, or exits.

        ``Popen`` returns once the child's close-on-exec pipe closes, which the kernel does
        before it lays out the new program's arguments: for a moment /proc/PID/cmdline is
        empty and ``pid()`` would disown a process just started (about one start in 500 here).
        """
        deadline = time.monotonic() + timeout_s
        while self.pid() is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)

    def stop(self, timeout_s: float = 60.0) -> bool:
        """SIGTERM our process group, SIGKILL it after ``timeout_s``; False if none ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
            psutil.Process(pid).wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            psutil.Process(pid).wait(timeout=10)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
        self.pid_file.unlink(missing_ok=True)
        return True

    def resident_bytes(self) -> int:
        """Resident memory of our process and its children, 0 when not running."""
        pid = self.pid()
        if pid is None:
            return 0
        try:
            proc = psutil.Process(pid)
            return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
        except psutil.Error:
            return 0

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def listener_pid(port: int) -> int | None:
    """The pid listening on ``port`` on this machine, when the OS tells us."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return conn.pid
    except psutil.Error:
        return None
    return None


def ensure_port_free_for(process: ManagedProcess, host: str, port: int, conf_key: str) -> None:
    """Refuse to start when a process we did not start already serves ``port``."""
    if not port_open(host, port):
        return
    holder = listener_pid(port)
    owner = f"pid {holder}" if holder else "an unknown process"
    raise ServiceError(
        f"{process.name}: {host}:{port} is already served by {owner}, which gridlake did not start; "
        f"gridlake leaves it alone: stop it yourself or move gridlake with {conf_key}"
    )


def wait_until(
    ready: Callable[[], bool],
    process: ManagedProcess,
    timeout_s: float,
    what: str,
    interval_s: float = 1.0,
) -> float:
    """Poll ``ready`` until true; fail naming the service and its log. Returns seconds waited."""
    started = time.monotonic()
    while True:
        try:
            if ready():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - any client error just means "not ready yet"
            pass
        if process.pid() is None:
            raise ServiceError(
                f"{process.name} exited while starting ({what}); see {process.log_file}:\n{process.log_tail()}"
            )
        if time.monotonic() - started > timeout_s:
            raise ServiceError(
                f"{process.name} not ready after {timeout_s:.0f}s ({what}); see {process.log_file}"
            )
        time.sleep(interval_s)
