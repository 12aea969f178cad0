"""An instance stopped by a signal (SIGSTOP, Ctrl-Z: process state T) is `paused`, not running or healthy, in
status-quick and status alike, with the reason and the way back in --json; SIGCONT makes it running again."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil

from support.sandbox import Sandbox


def _wait_state(pid: int, state: str) -> None:
    """Until the kernel shows `state`; pytest-timeout bounds the wait."""
    while psutil.Process(pid).status() != state:
        time.sleep(0.01)


def test_a_sigstopped_instance_is_paused_until_sigcont(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    pid = sandbox.record("worker-1").pid
    os.killpg(pid, signal.SIGSTOP)
    try:
        _wait_state(pid, psutil.STATUS_STOPPED)

        quick = sandbox.cli("status-quick", "--json")
        probed = sandbox.cli("status", "--json", "--timeout", "5")
        table = sandbox.cli("status-quick")
    finally:
        os.killpg(pid, signal.SIGCONT)
    _wait_state(pid, psutil.STATUS_SLEEPING)
    resumed = sandbox.cli("status-quick", "--json")

    for result, fine in ((quick, "running"), (probed, "healthy")):
        assert result.returncode == 1, result.stderr
        rows = {row["name"]: row for row in json.loads(result.stdout)["instances"]}
        assert rows["orchestration-1"]["status"] == fine
        assert rows["worker-1"]["status"] == "paused"
        assert rows["worker-1"]["pid"] == pid
        assert f"kill -CONT -- -{pid}" in rows["worker-1"]["reason"]
    assert "worker-1         paused" in table.stdout
    assert resumed.returncode == 0, resumed.stdout
    assert {row["status"] for row in json.loads(resumed.stdout)["instances"]} == {"running"}


def test_stop_resumes_a_paused_instance_so_that_it_exits_on_sigterm_instead_of_being_killed(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    pid = sandbox.record("orchestration-1").pid
    os.killpg(pid, signal.SIGSTOP)
    _wait_state(pid, psutil.STATUS_STOPPED)

    (stopped,) = sandbox.stop(timeout=30)

    assert stopped.outcome == "stopped", stopped
