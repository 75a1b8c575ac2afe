"""A server gridlake did not start is neither used as its own nor stopped."""

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.runtime.config import Settings
from jobs.devstack.process import ServiceError
from jobs.devstack.redis_server import RedisServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def system_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A Redis started outside gridlake, like the one Debian's package may start."""
    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            subprocess.run(["sleep", "0.05"], check=True)
    yield server, port
    server.kill()
    server.wait()


def test_foreign_redis_is_not_adopted_nor_stopped(settings: Settings, system_redis, tmp_path: Path) -> None:
    server, port = system_redis
    local = settings.model_copy(deep=True)
    local.state_dir = tmp_path / "state"
    local.redis.url = f"redis://127.0.0.1:{port}/0"
    redis_service = RedisServer(local)

    with pytest.raises(ServiceError, match=rf"127\.0\.0\.1:{port} is already served by pid {server.pid}.*GRIDLAKE_REDIS__URL"):
        redis_service.launch()
    status = redis_service.status()
    assert status.healthy is False and "not started by gridlake" in status.detail
    assert redis_service.stop() is False
    assert server.poll() is None, "the foreign Redis must still be running"
