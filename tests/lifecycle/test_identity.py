"""Identity survives what servers do to themselves: exec into another program, set a new process title.

Each server runs for real; status, stop and the next start-all must still know it as the instance they started.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import psutil
import pytest

from support.sandbox import SERVER, Sandbox, running, service


def _exec_after_a_pause(sandbox: Sandbox) -> dict[str, Any]:
    script = f"sleep 0.3; exec {{python}} {SERVER} --port {{port}} --name {{name}}"
    return {"role": "orchestration", "count": 1, "base_port": sandbox.base, "command": ["sh", "-c", script]}


def _start_script_ending_in_exec(sandbox: Sandbox) -> dict[str, Any]:
    script = sandbox.root / "start-server.sh"
    script.write_text(f'#!/bin/sh\necho "preparing"\nsleep 0.3\nexec "$1" {SERVER} --port "$2" --name "$3"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    command = [str(script), "{python}", "{port}", "{name}"]
    return {"role": "orchestration", "count": 1, "base_port": sandbox.base, "command": command}


def _retitled(sandbox: Sandbox) -> dict[str, Any]:
    return service("orchestration", 1, sandbox.base, "--retitle", "tasker: orchestration serving")


@pytest.mark.parametrize(
    "topology",
    [_exec_after_a_pause, _start_script_ending_in_exec, _retitled],
    ids=["sh -c '...; exec server'", "start script ending in exec", "setproctitle"],
)
def test_a_server_that_execs_or_renames_itself_is_still_shown_restarted_never_and_stopped(
    sandbox: Sandbox, topology: Any
) -> None:
    sandbox.write_topology({"orchestration": topology(sandbox)})
    report = sandbox.start()
    assert report.ok, report.failed
    pid = sandbox.record("orchestration-1").pid
    # The program now running under the recorded pid is not the command that was started.
    assert psutil.Process(pid).cmdline() != sandbox.record("orchestration-1").cmdline

    quick = sandbox.cli("status-quick")
    status = sandbox.cli("status")
    again = sandbox.cli("start-all")
    stopped = sandbox.cli("stop")

    assert quick.stdout.splitlines()[1].split()[:3] == ["orchestration-1", "running", str(pid)], quick.stdout
    assert status.returncode == 0 and " healthy " in status.stdout, status.stdout
    assert again.returncode == 0, again.stdout + again.stderr
    assert "orchestration-1    running" in again.stdout and "port-taken" not in again.stdout + again.stderr
    assert stopped.returncode == 0 and "orchestration-1    stopped" in stopped.stdout, stopped.stdout
    assert not running(pid)


def test_the_record_holds_the_identity_that_cannot_change_and_the_command_for_display(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": _exec_after_a_pause(sandbox)})
    assert sandbox.start().ok
    record = sandbox.record("orchestration-1")

    with open(f"/proc/{record.pid}/stat") as file:
        start_ticks = int(file.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/sys/kernel/random/boot_id") as file:
        boot = file.read().strip()
    assert (record.start_ticks, record.boot_id, record.session) == (start_ticks, boot, record.pid)
    assert record.cmdline == sandbox.config().instances[0].argv
    assert record.create_time == pytest.approx(psutil.Process(record.pid).create_time(), abs=0.01)
    assert len(record.token) == 16 and psutil.Process(record.pid).environ()["TASKER_INSTANCE_TOKEN"] == record.token


def test_a_record_from_an_earlier_boot_is_never_trusted_nor_signalled(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    record = sandbox.record("orchestration-1")
    # The same pid and start tick, but another boot: whatever runs under that pid now is not ours.
    from tasker_cluster.proc.records import write_record

    write_record(sandbox.project, record._replace(boot_id="0" * 32))
    try:
        quick = sandbox.cli("status-quick")
        stopped = sandbox.cli("stop")

        assert "the PID file was written before the last boot" in quick.stdout, quick.stdout
        assert "recorded before the last boot" in stopped.stdout and "not signalled" in stopped.stdout
        assert running(record.pid)
    finally:
        os.kill(record.pid, 9)


def test_a_server_without_a_record_of_its_own_is_not_claimed_by_name(sandbox: Sandbox) -> None:
    """Identity is the pid's start tick, not the command: a second copy of the same command is a stranger."""
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    record = sandbox.record("orchestration-1")
    stranger = psutil.Popen(["sleep", "60"])
    try:
        from tasker_cluster.proc.records import write_record

        write_record(sandbox.project, record._replace(pid=stranger.pid))
        stopped = sandbox.cli("stop")

        assert stranger.poll() is None
        # The instance itself is found by the marks in its environment, not by its command (test_corrupt_records.py).
        assert "found by the marks in its environment" in stopped.stdout, stopped.stdout
        assert not running(record.pid)
    finally:
        stranger.kill()
        stranger.wait()
        if running(record.pid):
            os.kill(record.pid, 9)
