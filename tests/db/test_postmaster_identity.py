"""postmaster.pid names a live server only when its pid is a running process called postgres: read from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasker_cluster.db.postmaster import running_postmaster
from tasker_cluster.proc.processes import read_stat


def _pid_file(data_dir: Path, pid: int) -> None:
    # The lines of a PostgreSQL >= 10 postmaster.pid: pid, data folder, start time, port, socket dir, address, key,
    # status.
    data_dir.mkdir(exist_ok=True)
    lines = [str(pid), str(data_dir), "1700000000", "25432", "/tmp", "127.0.0.1", "  1 2", "ready"]
    (data_dir / "postmaster.pid").write_text("\n".join(lines) + "\n")


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command name is `postgres` (a copy of sleep), not a child reaped behind the test's back."""
    program = tmp_path / "postgres"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    process = subprocess.Popen([str(program), "60"])
    yield process
    process.kill()
    process.wait()


def test_a_live_process_named_postgres_is_the_server(tmp_path: Path, fake_server: subprocess.Popen[bytes]) -> None:
    _pid_file(tmp_path / "data", fake_server.pid)

    record = running_postmaster(tmp_path / "data")

    assert record is not None and (record.pid, record.port, record.status) == (fake_server.pid, 25432, "ready")


def test_a_pid_now_held_by_another_program_is_not_the_server(tmp_path: Path) -> None:
    # After a reboot or a kill -9, the recorded pid may be any program's: here, the test's own (python).
    _pid_file(tmp_path / "data", os.getpid())

    assert running_postmaster(tmp_path / "data") is None


def test_a_killed_server_lingering_as_a_zombie_is_not_running(
    tmp_path: Path, fake_server: subprocess.Popen[bytes]
) -> None:
    _pid_file(tmp_path / "data", fake_server.pid)
    fake_server.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (stat := read_stat(fake_server.pid)) is not None and stat.running and time.monotonic() < deadline:
        time.sleep(0.01)

    assert read_stat(fake_server.pid) is not None, "the test's own child stays a zombie until it is waited for"
    assert running_postmaster(tmp_path / "data") is None
