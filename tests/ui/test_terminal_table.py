"""The status table on a terminal: the real CLI on a pseudo-terminal, at the width the terminal reports."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from support.sandbox import CLUSTER, STEERING, Sandbox, service
from tasker_cluster.ui.status import COLUMNS, DROPPED_FIRST

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_UNPROBED = "external server: status-quick never probes"


def _status_quick_on_a_terminal(sandbox: Sandbox, columns: str) -> list[str]:
    """`cluster status-quick` with a terminal as stdout (COLUMNS=`columns`), its lines without colours.

    An external database (DATABASE_URL) puts a reason in its HEALTH cell longer than 80 columns leave room for.
    """
    sandbox.write_topology({"worker": service("worker", 1, sandbox.base)}, database="local")
    reader, terminal = os.openpty()
    clean = {key: value for key, value in os.environ.items() if key not in STEERING and key != "FORCE_COLOR"}
    env = {**clean, "TERM": "xterm-256color", "COLUMNS": columns, "DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}
    try:
        result = subprocess.run(
            [CLUSTER, "--project-dir", str(sandbox.root), "status-quick"],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        output = bytearray()
        while chunk := _read(reader):
            output += chunk
    finally:
        os.close(reader)
    assert result.returncode == 1, result.stderr  # nothing runs
    return _ANSI.sub("", output.decode()).replace("\r", "").splitlines()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other side closed and all it wrote has been read
        return b""


def _health_column(lines: list[str]) -> str:
    start = lines[0].index("HEALTH")
    return " ".join(line[start:].strip() for line in lines[1:] if line[start:].strip())


def test_a_long_health_reason_wraps_at_80_columns_instead_of_being_cut(sandbox: Sandbox) -> None:
    lines = _status_quick_on_a_terminal(sandbox, "80")

    assert "…" not in "".join(lines)
    assert _health_column(lines) == _UNPROBED
    assert max(len(line) for line in lines) <= 80


def test_a_terminal_that_reports_zero_columns_gets_80(sandbox: Sandbox) -> None:
    lines = _status_quick_on_a_terminal(sandbox, "0")

    assert lines, "nothing was drawn"
    assert lines[0].split() == ["INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH"]
    assert lines[-1].split() == ["worker-1", "stopped", str(sandbox.base)]
    assert _health_column(lines) == _UNPROBED
    assert max(len(line) for line in lines) <= 80


@pytest.mark.parametrize("columns", [40, 60])
def test_a_narrow_terminal_drops_the_lowest_priority_columns_and_cuts_no_cell(sandbox: Sandbox, columns: int) -> None:
    lines = _status_quick_on_a_terminal(sandbox, str(columns))

    assert "…" not in "".join(lines)
    header = lines[0].split()
    dropped = [column for column in COLUMNS if column not in header]
    assert header[:2] == ["INSTANCE", "STATUS"] and header[-1] == "HEALTH"
    assert set(dropped) == set(DROPPED_FIRST[: len(dropped)]), "dropped out of priority order"
    assert lines[-1].split()[:2] == ["worker-1", "stopped"]
    assert _health_column(lines) == _UNPROBED
    assert max(len(line) for line in lines) <= columns
