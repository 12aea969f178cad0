"""The session is the instance, and what leaves it is still found: real servers that background themselves,
daemonize, or start a helper that double-forks out of their session."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from support.sandbox import Sandbox, running, service
from tasker_cluster.proc.records import read_record


def _wait_for_file(path: Path) -> int:
    while not path.exists():
        time.sleep(0.01)
    return int(path.read_text())


def _kill_if_running(pid: int) -> None:
    """Whatever a failing test leaves behind: the sandbox's own stop would miss it just as the code under test did."""
    if running(pid):
        os.kill(pid, signal.SIGKILL)


def _server_pid(port: int) -> int:
    [listener] = [
        c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
    ]
    assert listener.pid is not None
    return listener.pid


def test_a_command_that_backgrounds_itself_is_reported_kept_shown_and_stopped_as_a_session(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--background")})

    started = sandbox.cli("start-all")
    serving = _server_pid(sandbox.base)
    try:
        record = sandbox.record("orchestration-1")
        quick = sandbox.cli("status-quick")
        status = sandbox.cli("status")
        stopped = sandbox.cli("stop")

        assert started.returncode == 0, started.stdout + started.stderr
        assert (
            f"warning: orchestration-1: pid {record.pid} exited with code 0 and left pid {serving} serving in its "
            "session: the command puts itself in the background; run it in the foreground"
        ) in started.stderr
        assert serving != record.pid and os.getsid(serving) == record.pid
        assert quick.stdout.splitlines()[1].split()[:3] == ["orchestration-1", "running", str(serving)], quick.stdout
        assert status.returncode == 0 and "orchestration-1  healthy" in status.stdout, status.stdout
        assert f"its leader exited and pid {serving} of its session serves on" in status.stdout
        assert "orchestration-1    stopped" in stopped.stdout, stopped.stdout
        assert not running(serving)
        assert read_record(sandbox.project, "orchestration-1") is None
    finally:
        _kill_if_running(serving)


def test_a_helper_that_double_forked_out_of_the_session_is_named_by_status_and_stopped(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    helper_file = tmp_path / "helper.pid"
    sandbox.write_topology(
        {"orchestration": service("orchestration", 1, sandbox.base, "--escaping-helper", str(helper_file))}
    )
    assert sandbox.start().ok
    helper = _wait_for_file(helper_file)
    leader = sandbox.record("orchestration-1").pid
    try:
        assert os.getsid(helper) != leader and psutil.Process(helper).ppid() != leader

        status = sandbox.cli("status")
        stopped = sandbox.cli("stop", "--timeout", "0.3")

        assert (
            f"orchestration-1: pid {helper} left its session (setsid, a double fork) and still runs: "
            "`cluster stop orchestration-1` stops it too"
        ) in status.stdout, status.stdout
        assert "orchestration-1    killed" in stopped.stdout, stopped.stdout
        assert f"pid {helper}, which had left its session" in stopped.stdout
        assert not running(helper) and not running(leader)
    finally:
        _kill_if_running(helper)


def test_a_server_that_daemonizes_is_never_lost_its_record_finds_it_until_stop(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--daemonize")})

    started = sandbox.cli("start-all", "--timeout", "10")
    daemon = _server_pid(sandbox.base)
    try:
        quick = sandbox.cli("status-quick")
        status = sandbox.cli("status")
        again = sandbox.cli("start-all", "--timeout", "10")
        stopped = sandbox.cli("stop")

        assert started.returncode == 1
        assert "orchestration-1: exited: exited with code 0 before it was ready" in started.stderr
        assert f"pid {daemon} it started runs on outside its session (setsid, a double fork)" in started.stderr
        assert "`cluster stop orchestration-1` stops it" in started.stderr
        assert "orchestration-1  dead" in quick.stdout
        assert f"pid {daemon} left its session" in status.stdout, status.stdout
        assert again.returncode == 1 and "orchestration-1: left-behind:" in again.stderr, again.stderr
        assert "stale" in stopped.stdout and "stopped the processes it left behind" in stopped.stdout, stopped.stdout
        assert not running(daemon)
        assert read_record(sandbox.project, "orchestration-1") is None
    finally:
        _kill_if_running(daemon)


def test_a_process_carrying_another_token_is_never_signalled(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    token = sandbox.record("orchestration-1").token
    decoys = [
        subprocess.Popen(["sleep", "60"], env={**os.environ, "TASKER_INSTANCE_TOKEN": token[::-1]}),
        subprocess.Popen(["sleep", "60"], env={**os.environ, "OTHER_TASKER_INSTANCE_TOKEN": token}),
    ]
    try:
        stopped = sandbox.cli("stop")

        assert "orchestration-1    stopped" in stopped.stdout
        assert [decoy.poll() for decoy in decoys] == [None, None]
    finally:
        for decoy in decoys:
            decoy.kill()
            decoy.wait()
