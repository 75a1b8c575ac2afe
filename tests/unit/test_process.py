"""Pid-file ownership: gridlake stops only the processes it started itself."""

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from jobs.devstack.process import ManagedProcess, ServiceError, ensure_port_free_for, wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def managed(tmp_path: Path, marker: str) -> ManagedProcess:
    return ManagedProcess(name="sleeper", run_dir=tmp_path / "run", log_file=tmp_path / "sleeper.log", marker=marker)


def test_started_process_is_ours_until_stopped(tmp_path: Path) -> None:
    process = managed(tmp_path, marker="time.sleep(120)")
    pid = process.start(SLEEPER)
    assert process.pid() == pid
    assert process.stop(timeout_s=10) is True
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert process.pid() is None


def test_pid_file_of_a_foreign_process_is_not_obeyed(tmp_path: Path) -> None:
    foreign = subprocess.Popen(SLEEPER)
    try:
        process = managed(tmp_path, marker="a-marker-the-foreign-process-lacks")
        process.run_dir.mkdir(parents=True)
        process.pid_file.write_text(str(foreign.pid))
        assert process.pid() is None
        assert process.stop(timeout_s=1) is False
        assert foreign.poll() is None, "the foreign process must still run"
    finally:
        foreign.kill()
        foreign.wait()


def test_busy_port_is_reported_with_its_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c",
                               "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen();"
                               "print(s.getsockname()[1], flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        port = int(holder.stdout.readline())
        with pytest.raises(ServiceError, match=rf"sleeper: 127\.0\.0\.1:{port} is already served by pid {holder.pid}"):
            ensure_port_free_for(managed(tmp_path, "x"), "127.0.0.1", port, "GRIDLAKE_X")
    finally:
        holder.kill()
        holder.wait()


def test_wait_until_names_the_log_when_the_process_dies(tmp_path: Path) -> None:
    process = managed(tmp_path, marker="-c")
    process.start([sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"])
    with pytest.raises(ServiceError, match=r"sleeper exited while starting .*sleeper\.log[\s\S]*boom: bad config"):
        wait_until(lambda: False, process, timeout_s=30, what="never", interval_s=0.2)
