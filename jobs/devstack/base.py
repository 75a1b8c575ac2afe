"""What every local service offers to `gridlake services up|down|status`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `gridlake services status` reports it."""

    name: str
    healthy: bool
    address: str
    version: str | None = None
    detail: str = ""
    pid: int | None = None
    resident_mib: int = 0
    log: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class LocalService(Protocol):
    """A real server that gridlake starts on loopback for development and tests."""

    name: str

    def launch(self) -> None:
        """Start the server's processes if they are not already ours and running; don't wait."""

    def wait_ready(self, timeout_s: float) -> float:
        """Block until the server answers; return the seconds waited."""

    def status(self) -> ServiceStatus:
        """Probe the server and report its health, version and address."""

    def stop(self) -> bool:
        """Stop what gridlake started; False when nothing of ours was running."""
