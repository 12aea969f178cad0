"""Exec and TCP probes against real processes and sockets: exit codes, the last line, a hung probe killed whole."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from support.sandbox import REPO, running
from tasker_cluster.proc.exec_probe import run_probe_command
from tasker_cluster.proc.probes import connect

CHECK = str(REPO / "tests" / "support" / "check_ready.py")


def test_an_exec_probe_fails_with_its_last_line_until_its_check_passes(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    failing = run_probe_command([sys.executable, CHECK, str(marker)], 30, str(tmp_path), dict(os.environ))
    marker.write_text("")
    passing = run_probe_command([sys.executable, CHECK, str(marker)], 30, str(tmp_path), dict(os.environ))

    assert (failing.ok, failing.exit_code, failing.output) == (False, 3, "not ready: ready is missing")
    assert failing.text == "exec exit 3: not ready: ready is missing"
    assert (passing.ok, passing.text) == (True, "exec exit 0")
    assert passing.latency_ms is not None and passing.latency_ms > 0


def test_a_hung_exec_probe_is_killed_with_its_whole_process_group_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    argv = [sys.executable, CHECK, str(tmp_path / "ready"), "--hang", str(pid_file)]

    result = run_probe_command(argv, 1.5, str(tmp_path), dict(os.environ))

    assert (result.ok, result.error, result.text) == (False, "timeout", "exec timeout")
    child = int(pid_file.read_text())
    # Its child was in its group: it got the SIGKILL too (PID 1 may take a moment to reap it).
    deadline = time.monotonic() + 10
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)


def test_an_exec_probe_that_cannot_start_says_why_and_is_no_answer(tmp_path: Path) -> None:
    result = run_probe_command([str(tmp_path / "no-such-check")], 5, str(tmp_path), dict(os.environ))
    assert not result.ok and not result.answered
    assert result.error == f"FileNotFoundError: {tmp_path / 'no-such-check'}"


def test_a_tcp_probe_is_open_while_something_listens_and_refused_after() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = server.getsockname()
        opened = connect(address, 1.0)
    closed = connect(address, 1.0)

    assert (opened.ok, opened.text) == (True, "tcp open")
    assert (closed.ok, closed.text) == (False, "tcp refused")
