"""Starting and stopping real server processes: records, readiness, refusals, early exits, escalation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from support.sandbox import CLUSTER, STEERING, Sandbox, running, service
from tasker_cluster.cluster.start import start_instances
from tasker_cluster.cluster.start_results import StartEvent
from tasker_cluster.cluster.status import quick_status
from tasker_cluster.proc.log_writer import rotate_if_full
from tasker_cluster.proc.processes import boot_id, read_stat
from tasker_cluster.proc.records import InstanceRecord, Liveness, liveness, read_record, write_record


def test_start_all_starts_every_instance_ready_and_records_its_identity(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)

    report = sandbox.start()

    assert report.ok
    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("orchestration-2", "ready"),
        ("worker-1", "ready"),
        ("worker-2", "ready"),
    ]
    record = sandbox.record("worker-2")
    process = psutil.Process(record.pid)
    assert record.cmdline == process.cmdline()
    assert record.create_time == pytest.approx(process.create_time(), abs=0.01)
    assert record.port == sandbox.base + 11 and record.url == f"http://127.0.0.1:{sandbox.base + 11}"
    assert os.getpgid(record.pid) == record.pid and os.getsid(record.pid) == record.pid
    assert process.cwd() == str(sandbox.root)
    environ = process.environ()
    assert environ["TASKER_INSTANCE_ID"] == "worker-2" and environ["TASKER_BIND_ADDRESS"] == "127.0.0.1"
    assert environ["TASKER_INSTANCE_PORT"] == str(record.port) and "DATABASE_URL" not in environ
    # The instance printed it before it answered ready; the log writer, another process, creates the file with the
    # first line and may write it a little later on a loaded machine (pytest-timeout bounds the wait).
    log = Path(record.log)
    while not (log.exists() and "worker-2 listening" in log.read_text()):
        time.sleep(0.01)


def test_stop_ends_every_instance_removes_pid_files_and_is_idempotent(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=1)
    assert sandbox.start().ok
    pids = [sandbox.record(name).pid for name in ("orchestration-1", "orchestration-2", "worker-1")]

    first = sandbox.stop()
    second = sandbox.stop()

    assert [(r.name, r.outcome) for r in first] == [
        ("orchestration-1", "stopped"),
        ("orchestration-2", "stopped"),
        ("worker-1", "stopped"),
    ]
    assert not any(running(pid) for pid in pids)
    assert list(sandbox.project.pids_dir.glob("*.pid")) == []
    assert second == []


def test_plain_stop_prints_its_lines_in_the_status_tables_order(sandbox: Sandbox) -> None:
    # Services not in name order: the PID records alone would put alpha before zeta.
    sandbox.write_topology(
        {
            "zeta": service("worker", 2, sandbox.base + 20),
            "orchestration": service("orchestration", 1, sandbox.base),
            "alpha": service("worker", 2, sandbox.base + 10),
        }
    )
    assert sandbox.start().ok
    table = sandbox.cli("status-quick").stdout.splitlines()[1:]

    result = sandbox.cli("stop")

    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == [row.split()[0] for row in table]
    assert [row.split()[0] for row in table] == ["orchestration-1", "zeta-1", "zeta-2", "alpha-1", "alpha-2"]


def test_start_all_on_a_running_cluster_starts_only_what_is_missing(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    assert sandbox.start().ok
    kept = sandbox.record("worker-1").pid
    sandbox.stop(["worker-2"])

    report = sandbox.start()

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "ready"),
        ("worker-2", "ready"),
    ]
    assert sandbox.record("worker-1").pid == kept
    assert Path(sandbox.record("orchestration-1").log).read_text().count("listening") == 1


def _start_with_a_child_ignoring_sigterm(sandbox: Sandbox, child_file: Path) -> tuple[int, int]:
    """orchestration-1 started, having forked a child that ignores SIGTERM: (leader pid, child pid)."""
    sandbox.write_topology(
        {"orchestration": service("orchestration", 1, sandbox.base, "--child-ignoring-term", str(child_file))}
    )
    assert sandbox.start().ok
    return sandbox.record("orchestration-1").pid, int(child_file.read_text())


def test_stop_escalates_to_sigkill_when_a_child_ignores_sigterm_and_leaves_nothing_behind(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    leader, child = _start_with_a_child_ignoring_sigterm(sandbox, tmp_path / "child.pid")
    assert os.getpgid(child) == leader

    results = sandbox.stop(timeout=0.3)

    assert [(r.name, r.outcome) for r in results] == [("orchestration-1", "killed")]
    assert not running(child) and not running(leader)


def _start_a_leader_ignoring_sigterm(sandbox: Sandbox) -> int:
    """orchestration-1 started with a server that ignores SIGTERM; its pid."""
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--ignore-term")})
    assert sandbox.start().ok
    return sandbox.record("orchestration-1").pid


def test_stop_escalates_when_the_leader_itself_ignores_sigterm(sandbox: Sandbox) -> None:
    leader = _start_a_leader_ignoring_sigterm(sandbox)

    result = sandbox.cli("stop", "--timeout", "0.2")

    assert result.returncode == 0, result.stderr
    assert "killed" in result.stdout
    assert not running(leader)


def test_stop_with_timeout_0_kills_at_once_and_says_no_grace_period_was_given(sandbox: Sandbox) -> None:
    """As `docker compose stop -t 0`: no grace period, so the instance is not blamed for ignoring SIGTERM."""
    leader = _start_a_leader_ignoring_sigterm(sandbox)

    result = sandbox.cli("stop", "--timeout", "0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=4) == [
        "orchestration-1",
        "killed",
        "pid",
        str(leader),
        "no grace period (0 s): SIGKILL right after SIGTERM\n",
    ]
    assert not running(leader)


def test_an_instance_whose_leader_died_runs_on_in_its_session_until_stop_kills_the_rest(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    leader, child = _start_with_a_child_ignoring_sigterm(sandbox, tmp_path / "child.pid")
    doomed = psutil.Process(leader)  # before the kill: the leader may be reaped before a later lookup
    os.kill(leader, signal.SIGKILL)
    psutil.wait_procs([doomed], timeout=10)

    [row] = quick_status(sandbox.project, sandbox.config()).instances
    results = sandbox.stop(timeout=0.2)

    assert (row.status, row.pid, row.serving) == ("running", child, (child,))
    assert [(r.name, r.outcome) for r in results] == [("orchestration-1", "killed")]
    assert not running(child)


def test_a_stale_pid_file_naming_an_unrelated_live_process_is_removed_and_never_signalled(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        write_record(sandbox.project, _record_claiming(stranger.pid, sandbox))

        result = sandbox.cli("stop")

        assert result.returncode == 0, result.stderr
        assert "stale" in result.stdout and "not signalled" in result.stdout
        assert stranger.poll() is None
        assert read_record(sandbox.project, "orchestration-1") is None
    finally:
        stranger.kill()
        stranger.wait()


def test_identity_check_tells_a_recycled_pid_or_an_earlier_boot_from_our_process(sandbox: Sandbox) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        started = read_stat(stranger.pid)
        assert started is not None
        ours = _record_claiming(stranger.pid, sandbox)._replace(start_ticks=started.start_ticks, boot_id=boot_id())
        other_time = ours._replace(start_ticks=started.start_ticks - 500)
        other_boot = ours._replace(boot_id="0" * 32)
        # The command line is for display: a process that exec'd or renamed itself is still the one we started.
        other_command = ours._replace(cmdline=["something", "else"])

        assert liveness(ours) is Liveness.ALIVE
        assert liveness(other_time) is Liveness.REUSED
        assert liveness(other_boot) is Liveness.REBOOTED
        assert liveness(other_command) is Liveness.ALIVE
    finally:
        stranger.kill()
        stranger.wait()
    assert liveness(ours) is Liveness.DEAD


def test_a_record_written_before_start_ticks_is_identified_by_its_create_time(sandbox: Sandbox) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        create_time = psutil.Process(stranger.pid).create_time()
        legacy = _record_claiming(stranger.pid, sandbox, ["sleep", "60"], create_time)

        assert legacy.start_ticks is None
        assert liveness(legacy) is Liveness.ALIVE
        assert liveness(legacy._replace(create_time=create_time - 5)) is Liveness.REUSED
    finally:
        stranger.kill()
        stranger.wait()


def _record_claiming(
    pid: int, sandbox: Sandbox, cmdline: list[str] | None = None, create_time: float = 1.0
) -> InstanceRecord:
    return InstanceRecord(
        name="orchestration-1",
        pid=pid,
        create_time=create_time,
        cmdline=cmdline or ["python", "server.py"],
        port=sandbox.base,
        url=f"http://127.0.0.1:{sandbox.base}",
        service="orchestration",
        role="orchestration",
        log=str(sandbox.project.log_file("orchestration-1")),
        started_at="2024-01-01T00:00:00+00:00",
    )


def test_a_port_held_by_another_process_is_refused_naming_its_owner(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    with socket.socket() as holder:
        # A listener takes the port even so; without it, TIME_WAIT left there by an earlier test refuses the bind.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", sandbox.base + 10))
        holder.listen()

        result = sandbox.cli("start-all", "--timeout", "20")

    assert result.returncode == 1
    assert f"worker-1: port-taken: port {sandbox.base + 10} is taken by pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_record(sandbox.project, "worker-1") is None
    assert liveness(sandbox.record("orchestration-1")) is Liveness.ALIVE


def test_an_instance_that_exits_early_is_reported_at_once_with_its_log_tail(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "worker": service("worker", 1, sandbox.base + 10, "--exit-early", "boom: cannot read settings.toml"),
        }
    )
    sandbox.project.logs_dir.mkdir()
    sandbox.project.log_file("worker-1").write_text("an earlier run's line\n")

    result = sandbox.cli("start-all", "--timeout", "60")

    assert result.returncode == 1
    assert "worker-1: exited: exited with code 3 before it was ready" in result.stderr
    assert "| boom: cannot read settings.toml" in result.stderr
    assert "an earlier run's line" not in result.stderr
    assert read_record(sandbox.project, "worker-1") is None


def test_a_command_that_does_not_exist_fails_that_instance_only(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "worker": {"role": "worker", "count": 1, "base_port": sandbox.base + 10, "command": ["no-such-program-x"]},
        }
    )

    report = sandbox.start()

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "spawn-failed"),
    ]
    assert "no-such-program-x" in report.failed[0].detail


def test_a_command_that_cannot_run_gets_its_own_fix_once_and_no_pointer_to_log_lines(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {"worker": {"role": "worker", "count": 1, "base_port": sandbox.base, "command": ["no-such-program-x"]}}
    )

    result = sandbox.cli("start-all")

    assert result.returncode == 1
    assert "worker-1: spawn-failed: cannot run 'no-such-program-x': " in result.stderr
    fixes = [line for line in result.stderr.splitlines() if line.lstrip().startswith("fix:")]
    assert fixes == [
        "  fix: check the service's `command` in config/cluster.toml: the program must exist and be executable, "
        "then run the command again"
    ], result.stderr
    assert "log lines" not in result.stderr


def test_readiness_timeout_names_the_instance_and_leaves_it_running(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--listen-after", "600")})

    report = sandbox.start(timeout=0.3)

    [instance] = report.failed
    assert instance.outcome == "timeout"
    assert "not ready after" in instance.detail and f"nothing listened on 127.0.0.1:{sandbox.base}" in instance.detail
    assert liveness(sandbox.record("orchestration-1")) is Liveness.ALIVE


def test_no_wait_returns_started_instances_without_probing(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--listen-after", "600")})

    report = sandbox.start(wait=False)

    assert [(i.name, i.outcome) for i in report.instances] == [("orchestration-1", "started")]


def test_two_concurrent_start_alls_start_each_instance_once(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)
    results: list[subprocess.CompletedProcess[str]] = []

    def start_all() -> None:
        results.append(sandbox.cli("start-all", "--timeout", "30"))

    threads = [threading.Thread(target=start_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [result.returncode for result in results] == [0, 0], [r.stderr for r in results]
    spawned = sum(result.stdout.count(" spawned ") for result in results)
    already = sum(result.stdout.count(" running ") for result in results)
    assert (spawned, already) == (4, 4)
    for name in ("orchestration-1", "orchestration-2", "worker-1", "worker-2"):
        assert sandbox.project.log_file(name).read_text().count("listening") == 1


def test_logs_rotate_at_spawn_keeping_three_old_files(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    for generation in range(5):
        log.write_text(f"generation {generation}\n" * 10)
        rotate_if_full(str(log), max_bytes=50, keep=3)

    assert log.read_text() == ""
    assert [(tmp_path / f"a.log.{i}").read_text().split("\n")[0] for i in (1, 2, 3)] == [
        "generation 4",
        "generation 3",
        "generation 2",
    ]
    assert not (tmp_path / "a.log.4").exists()


_ESCAPING_PARENT = """
import os, signal, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", "import os, signal, sys, time\\n"
     "os.setsid()\\n"
     "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
     "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\\n"
     "os.replace(sys.argv[1] + '.tmp', sys.argv[1])\\n"
     "time.sleep(600)\\n", sys.argv[1]]
)
time.sleep(600)
"""


def test_stop_kills_a_child_that_moved_to_a_session_of_its_own(sandbox: Sandbox, tmp_path: Path) -> None:
    script, child_file = tmp_path / "escaping_parent.py", tmp_path / "child.pid"
    script.write_text(_ESCAPING_PARENT)
    sandbox.write_topology(
        {
            "orchestration": {
                "role": "orchestration",
                "count": 1,
                "base_port": sandbox.base,
                "command": ["{python}", str(script), str(child_file)],
            }
        }
    )
    assert sandbox.start(wait=False).ok
    leader = sandbox.record("orchestration-1").pid
    while not child_file.exists():
        time.sleep(0.01)
    child = int(child_file.read_text())
    try:
        assert os.getsid(child) == child != leader

        results = sandbox.stop(timeout=0.3)

        assert [(r.name, r.outcome) for r in results] == [("orchestration-1", "killed")]
        assert not running(child) and not running(leader)
    finally:
        if running(child):  # left behind by a failing stop: the sandbox's own stop would miss it too
            os.kill(child, signal.SIGKILL)


@pytest.mark.timeout(30)
def test_an_error_while_reporting_readiness_reaches_the_caller_at_once(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    config = sandbox.config()

    def fail_on_ready(event: StartEvent) -> None:
        if event.kind == "ready":
            raise RuntimeError("display broke")

    # A startup window far beyond this test's timeout: the error must not wait for it.
    with pytest.raises(RuntimeError, match="display broke"):
        start_instances(config, config.instances, timeout=600, on_event=fail_on_ready)


def test_a_start_interrupted_half_way_records_what_it_spawned_so_stop_finds_it(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)
    config = sandbox.config()
    spawned: list[str] = []

    def interrupt_after_two(event: StartEvent) -> None:
        if event.kind == "spawned":
            spawned.append(event.name)
            if len(spawned) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        start_instances(config, config.instances, on_event=interrupt_after_two)

    pids = {name: sandbox.record(name).pid for name in spawned}
    assert sorted(pids) == ["orchestration-1", "orchestration-2"]
    assert read_record(sandbox.project, "worker-1") is None
    results = sandbox.stop()
    assert {result.name: result.outcome for result in results} == {name: "stopped" for name in spawned}
    assert not any(running(pid) for pid in pids.values())


@pytest.mark.parametrize(
    ("workers", "said"),
    [
        (1, "2 instances started and still running (orchestration-1, worker-1); `cluster status` shows them"),
        (0, "1 instance started and still running (orchestration-1); `cluster status` shows it"),
    ],
    ids=["two", "one"],
)
def test_ctrl_c_during_start_all_names_what_keeps_running_and_exits_130(
    sandbox: Sandbox, workers: int, said: str
) -> None:
    sandbox.write_cluster(1, workers, "--ready-after", "30")
    clean = {key: value for key, value in os.environ.items() if key not in STEERING}
    process = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), "start-all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean,
    )
    assert process.stdout is not None
    spawned = 0
    while spawned < 1 + workers:
        line = process.stdout.readline()
        assert line, "start-all ended before spawning both instances"
        spawned += " spawned " in line
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=20)

    assert process.returncode == 130
    assert f"interrupted: {said}" in errors
    assert "Traceback" not in errors
    stopped = sandbox.cli("stop")
    assert stopped.returncode == 0
    assert stopped.stdout.count(" stopped ") == 1 + workers


def test_a_sigint_during_the_spawn_loop_spawns_nothing_more_and_records_what_runs(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)
    config = sandbox.config()
    spawned: list[str] = []

    def ctrl_c_at_the_first_spawn(event: StartEvent) -> None:
        if event.kind == "spawned":
            spawned.append(event.name)
            if len(spawned) == 1:
                os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        start_instances(config, config.instances, on_event=ctrl_c_at_the_first_spawn)

    assert spawned == ["orchestration-1"]
    pid = sandbox.record("orchestration-1").pid
    assert [read_record(sandbox.project, name) for name in ("orchestration-2", "worker-1", "worker-2")] == [None] * 3
    assert [result.outcome for result in sandbox.stop()] == ["stopped"]
    assert not running(pid)
