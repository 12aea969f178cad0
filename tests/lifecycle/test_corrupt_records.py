"""A corrupt or hand-edited PID record does not make an instance we started a stranger: its environment carries this
project's folder, its instance id and a start token, which prove it ours. status and start find it by that marker
(and say once that the record is corrupt, with the fix), start writes the record again, stop stops it. A process
without that proof is never signalled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from support.sandbox import SERVER, Sandbox, running, wait_listening
from unit.fakes import NO_SUCH_PID

_CORRUPTIONS = {
    "truncated JSON": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "not a record\n",
    "pid edited to a string": lambda text: json.dumps({**json.loads(text), "pid": "12x"}),
}


@pytest.fixture(params=sorted(_CORRUPTIONS))
def corrupted(sandbox: Sandbox, request: pytest.FixtureRequest) -> tuple[Sandbox, int]:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    pid = sandbox.record("orchestration-1").pid
    pid_file = sandbox.project.pid_file("orchestration-1")
    pid_file.write_text(_CORRUPTIONS[request.param](pid_file.read_text()))
    return sandbox, pid


def test_status_quick_finds_the_instance_by_its_marker_and_reports_the_corrupt_record(
    corrupted: tuple[Sandbox, int],
) -> None:
    sandbox, pid = corrupted

    quick = sandbox.cli("status-quick", "--json")

    row = json.loads(quick.stdout)["instances"][0]
    assert (row["name"], row["status"], row["pid"]) == ("orchestration-1", "running", pid), quick.stdout
    warnings = json.loads(quick.stdout)["warnings"]
    assert len(warnings) == 1 and "orchestration-1" in warnings[0]["message"], warnings
    assert "holds no valid record" in warnings[0]["message"]
    assert "cluster start orchestration-1" in warnings[0]["fix"]


@pytest.mark.parametrize("names", [(), ("orchestration-1",)], ids=["every instance", "by name"])
def test_stop_stops_the_instance_its_marker_proves_ours_and_removes_the_record(
    corrupted: tuple[Sandbox, int], names: tuple[str, ...]
) -> None:
    sandbox, pid = corrupted

    stopped = sandbox.cli("stop", *names)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "orchestration-1    stopped" in stopped.stdout, stopped.stdout
    assert not running(pid)
    assert not sandbox.project.pid_file("orchestration-1").exists()


def test_start_all_recognises_the_running_instance_and_writes_its_record_again(corrupted: tuple[Sandbox, int]) -> None:
    sandbox, pid = corrupted

    again = sandbox.cli("start-all")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "port-taken" not in again.stdout + again.stderr
    assert "orchestration-1    running" in again.stdout, again.stdout
    assert "rewrote" in again.stdout
    assert sandbox.record("orchestration-1").pid == pid
    assert sandbox.cli("status-quick").returncode == 0


def test_a_process_without_this_projects_marker_is_never_signalled_despite_a_corrupt_record(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    # Marked for the same instance name, but started for another project folder: not ours.
    env = {
        **os.environ,
        "TASKER_INSTANCE_ID": "orchestration-1",
        "TASKER_INSTANCE_TOKEN": "0123456789abcdef",
        "TASKER_PROJECT_DIR": str(sandbox.root / "elsewhere"),
    }
    stranger = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", str(sandbox.base), "--name", "orchestration-1"],
        env=env,
        start_new_session=True,
    )
    try:
        wait_listening(sandbox.base)
        sandbox.project.pids_dir.mkdir(parents=True, exist_ok=True)
        sandbox.project.pid_file("orchestration-1").write_text(json.dumps({"pid": stranger.pid}))

        quick = sandbox.cli("status-quick")
        stopped = sandbox.cli("stop")

        assert "running" not in quick.stdout.splitlines()[1], quick.stdout
        assert stranger.poll() is None, "a process without our marker was signalled"
        assert "not signalled" in stopped.stdout, stopped.stdout
    finally:
        stranger.kill()
        stranger.wait()


def test_a_record_whose_pid_was_edited_to_a_strangers_still_finds_and_stops_the_instance_never_the_stranger(
    sandbox: Sandbox,
) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    pid = sandbox.record("orchestration-1").pid
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        _edit_pid(sandbox, "orchestration-1", pid=stranger.pid)

        quick = sandbox.cli("status-quick")
        again = sandbox.cli("start-all")
        rewritten = sandbox.record("orchestration-1")
        stopped = sandbox.cli("stop")

        assert quick.stdout.splitlines()[1].split()[:3] == ["orchestration-1", "running", str(pid)], quick.stdout
        # The file is a valid record: the warning names the pid it holds, as stop does, not a corrupt file.
        assert f"orchestration-1: its PID file names pid {stranger.pid}, which is not its process; pid {pid} is" in (
            quick.stderr
        ), quick.stderr
        assert "holds no valid record" not in quick.stderr
        assert again.returncode == 0 and "port-taken" not in again.stdout + again.stderr, again.stdout + again.stderr
        assert rewritten.pid == pid
        assert "orchestration-1    stopped" in stopped.stdout, stopped.stdout
        assert not running(pid)
        assert stranger.poll() is None, "the stranger the edited record named was signalled"
    finally:
        stranger.kill()
        stranger.wait()


def _edit_pid(sandbox: Sandbox, name: str, **fields: object) -> None:
    pid_file = sandbox.project.pid_file(name)
    pid_file.write_text(json.dumps({**json.loads(pid_file.read_text()), **fields}))


def test_a_pid_edited_to_a_dead_one_is_told_from_a_command_that_backgrounded_and_its_instance_kept(
    sandbox: Sandbox,
) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    pid = sandbox.record("orchestration-1").pid
    _edit_pid(sandbox, "orchestration-1", pid=NO_SUCH_PID)

    quick = sandbox.cli("status-quick")
    again = sandbox.cli("start-all")
    _edit_pid(sandbox, "orchestration-1", pid=NO_SUCH_PID)
    stopped = sandbox.cli("stop")

    said = quick.stdout + quick.stderr + again.stdout + again.stderr + stopped.stdout + stopped.stderr
    assert "background" not in said, said
    assert quick.stdout.splitlines()[1].split()[:3] == ["orchestration-1", "running", str(pid)], quick.stdout
    assert f"its PID file names pid {NO_SUCH_PID}, which is not its process; pid {pid} is that instance" in (
        quick.stderr
    ), quick.stderr
    assert f"rewrote its PID file, which named pid {NO_SUCH_PID}, for pid {pid}" in again.stdout, again.stdout
    assert again.returncode == 0 and "port-taken" not in again.stdout, again.stdout
    line = next(line for line in stopped.stdout.splitlines() if line.startswith("orchestration-1"))
    assert line.split()[1:4] == ["stopped", "pid", str(pid)], stopped.stdout
    assert f"its PID file named pid {NO_SUCH_PID}, which is not its process" in line
    assert not running(pid)


def test_an_edited_record_whose_marks_prove_nothing_is_never_signalled(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    assert sandbox.start().ok
    pid = sandbox.record("orchestration-1").pid
    # The token no longer matches what the instance carries: nothing proves the session's leader this record's.
    _edit_pid(sandbox, "orchestration-1", pid=NO_SUCH_PID, token="0123456789abcdef")
    try:
        stopped = sandbox.cli("stop")

        assert running(pid), "a process the record could not prove ours was signalled"
        line = next(line for line in stopped.stdout.splitlines() if line.startswith("orchestration-1"))
        assert line.split()[1] == "stale" and "the file was edited" in line and "not signalled" in line, line
        assert "background" not in stopped.stdout
    finally:
        os.kill(pid, signal.SIGKILL)  # started by this test


@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process as another user needs root")
def test_another_users_process_carrying_this_projects_marks_is_never_signalled(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    marks = {
        "TASKER_INSTANCE_ID": "orchestration-1",
        "TASKER_INSTANCE_PORT": str(sandbox.base),
        "TASKER_INSTANCE_TOKEN": "0123456789abcdef",
        "TASKER_PROJECT_DIR": str(sandbox.root),
    }
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, **marks}, start_new_session=True, user="nobody")
    try:
        sandbox.project.pids_dir.mkdir(parents=True, exist_ok=True)
        sandbox.project.pid_file("orchestration-1").write_text("not a record\n")

        stopped = sandbox.cli("stop")

        assert "not signalled" in stopped.stdout, stopped.stdout
        assert other.poll() is None, "another user's process was signalled"
    finally:
        other.kill()
        other.wait()
