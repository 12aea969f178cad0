"""Services that are not HTTP servers, with real processes: a raw TCP server (probe = "tcp"), a worker checked by a
command (probe = "exec") and a worker with no port at all (probe = "none")."""

from __future__ import annotations

import json
import re
import socket
from contextlib import ExitStack
from typing import Any

from support.sandbox import REPO, Sandbox, service

SUPPORT = REPO / "tests" / "support"


def _tcp(base: int, *options: str) -> dict[str, Any]:
    command = ["{python}", str(SUPPORT / "tcp_server.py"), "--port", "{port}", *options]
    return {"role": "worker", "count": 1, "base_port": base, "command": command, "probe": "tcp"}


def _job(base: int, ready_after: str, *check_options: str, **keys: Any) -> dict[str, Any]:
    marker = "{project_dir}/{name}.ready"
    command = ["{python}", str(SUPPORT / "worker.py"), "--ready-file", marker, "--ready-after", ready_after]
    check = ["{python}", str(SUPPORT / "check_ready.py"), marker, *check_options]
    table = {"role": "worker", "count": 1, "base_port": base, "command": command}
    return {**table, "probe": "exec", "probe_command": check, **keys}


def _quiet(base: int, *options: str) -> dict[str, Any]:
    command = ["{python}", str(SUPPORT / "worker.py"), *options]
    return {"role": "worker", "count": 1, "base_port": base, "command": command, "probe": "none"}


def _rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines()[1:] if line.strip()}


def test_tcp_exec_and_no_probe_services_start_and_show_their_probes_answers(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology(
        {
            "web": service("orchestration", 1, b),
            "raw": _tcp(b + 10, "--listen-after", "0.3"),
            "job": _job(b + 11, "0.5"),
            "quiet": _quiet(b + 12),
        }
    )

    started = sandbox.cli("start-all", "--timeout", "60")
    status = sandbox.cli("status")
    answers = {row["name"]: row for row in json.loads(sandbox.cli("status", "--json").stdout)["instances"]}

    assert started.returncode == 0, started.stdout + started.stderr
    assert "4 ready" in started.stdout
    rows = _rows(status.stdout)
    assert status.returncode == 0, status.stdout
    assert rows["web-1"][1] == "healthy" and rows["web-1"][8] == "200"
    assert rows["raw-1"][1] == "healthy" and rows["raw-1"][8:10] == ["tcp", "open"]
    assert rows["job-1"][1] == "healthy" and rows["job-1"][8:11] == ["exec", "exit", "0"]
    assert rows["quiet-1"][1] == "running" and rows["quiet-1"][8:] == ["no", "probe"]
    assert {name: (row["probe"], row["answer"]) for name, row in answers.items()} == {
        "web-1": ("http", "200"),
        "raw-1": ("tcp", "tcp open"),
        "job-1": ("exec", "exec exit 0"),
        "quiet-1": ("none", None),
    }
    # An exec probe's marker: the check really ran against what the worker wrote.
    assert (sandbox.root / "job-1.ready").exists()


def test_a_failing_exec_probe_is_unhealthy_with_its_last_line_and_a_dead_unprobed_worker_is_dead(
    sandbox: Sandbox,
) -> None:
    b = sandbox.base
    sandbox.write_topology({"job": _job(b, "0", startup_timeout=0.5), "quiet": _quiet(b + 1, "--exit-after", "1")})
    assert sandbox.start(timeout=30).ok
    (sandbox.root / "job-1.ready").unlink()
    quiet = sandbox.record("quiet-1").pid

    status = sandbox.cli("status")
    rows = _rows(status.stdout)

    assert status.returncode == 1
    assert rows["job-1"][1] == "unhealthy", status.stdout
    assert "exec exit 3: not ready: job-1.ready is missing" in status.stdout
    # `none` waits for nothing, but still sees a worker that exited.
    while sandbox.cli("status-quick").returncode == 0:
        pass
    assert _rows(sandbox.cli("status").stdout)["quiet-1"][1:3] == ["dead", str(quiet)]


def test_a_no_probe_service_that_exits_at_start_is_reported_exited_with_its_code_and_log_not_ready(
    sandbox: Sandbox,
) -> None:
    b = sandbox.base
    # -I -S: no site-packages to import, so that even a loaded machine runs it to its exit well inside the 1 s an
    # instance probed by "none" must stay up.
    boom = ["{python}", "-I", "-S", "-c", "import sys; print('boom'); sys.exit(3)"]
    crashing = {"role": "worker", "count": 1, "base_port": b, "command": boom, "probe": "none"}
    sandbox.write_topology({"boom": crashing, "quiet": _quiet(b + 1)})

    started = sandbox.cli("start-all", "--timeout", "30")

    assert started.returncode == 1, started.stdout + started.stderr
    events = _rows_of_events(started.stdout)
    assert events["boom-1"][0] == "exited" and events["quiet-1"][0] == "ready", started.stdout
    assert "boom-1: exited: exited with code 3 before it was ready" in started.stderr
    assert "    | boom" in started.stderr
    assert "quiet-1" not in started.stderr


def test_only_instances_probed_on_their_port_are_refused_when_it_is_taken(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology({"quiet": _quiet(b), "job": _job(b + 1, "0"), "web": service("orchestration", 1, b + 2)})
    with ExitStack() as holders:
        for port in (b, b + 1, b + 2):
            holder = holders.enter_context(socket.socket())
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", port))
            holder.listen()

        started = sandbox.cli("start-all", "--timeout", "30")

    events = _rows_of_events(started.stdout)
    assert started.returncode == 1, started.stdout + started.stderr
    # A worker that opens no port and one checked by a command are given their port but never refused for it.
    assert events["quiet-1"][0] == "ready" and events["job-1"][0] == "ready", started.stdout
    assert events["web-1"][0] == "port-taken" and "1 instance failed to start" in started.stderr
    assert sandbox.record("quiet-1").port == b


def test_a_probe_command_that_cannot_be_started_fails_the_start_at_once_naming_the_key(sandbox: Sandbox) -> None:
    b = sandbox.base
    not_a_program = sandbox.root / "check.txt"
    not_a_program.write_text("exit 0\n")
    not_a_program.chmod(0o644)
    sandbox.write_topology(
        {
            "missing": _job(b, "0", startup_timeout=30) | {"probe_command": ["no-such-checker"]},
            "plain": _job(b + 1, "0", startup_timeout=30) | {"probe_command": [str(not_a_program)]},
        }
    )

    started = sandbox.cli("start-all")

    assert started.returncode == 1, started.stdout + started.stderr
    # At once: a timeout's outcome would come only at the end of the 30 s startup window.
    assert (
        "missing-1: probe-error: its probe command could not be run (FileNotFoundError: no-such-checker): correct "
        "services.missing.probe_command; it is still running"
    ) in started.stderr
    assert (
        f"plain-1: probe-error: its probe command could not be run (PermissionError: {not_a_program}): correct "
        "services.plain.probe_command; it is still running"
    ) in started.stderr
    assert "fix: change what each message names, then run the command again" in started.stderr


def test_a_start_or_restart_whose_instance_is_ready_but_fails_its_health_path_fails_naming_the_fix(
    sandbox: Sandbox,
) -> None:
    b = sandbox.base
    sandbox.write_topology(
        {
            "web": service("orchestration", 1, b, health_path="/missing"),
            "sick": service("worker", 1, b + 10, "--health-status", "503"),
            "fine": service("worker", 1, b + 11),
        }
    )

    started = sandbox.cli("start-all", "--timeout", "30")
    restarted = sandbox.cli("restart", "web-1", "--timeout", "30")

    assert started.returncode == 1, started.stdout + started.stderr
    events = _rows_of_events(started.stdout)
    assert events["web-1"][0] == "unhealthy" and events["web-1"][3:] == ["health", "answered", "404"], events
    assert events["sick-1"][0] == "unhealthy" and events["fine-1"][0] == "ready", events
    assert re.search(
        r"\nweb-1: unhealthy: ready in [0-9.]+ s, but its health path /missing answered 404: set "
        r"services\.web\.health_path to a path the instance serves \(2xx while it is healthy\); it is still running\n",
        started.stderr,
    ), started.stderr
    assert re.search(
        r"\nsick-1: unhealthy: ready in [0-9.]+ s, but its health path /health answered 503: the instance reports "
        r"itself unhealthy, its log says why; it is still running\n",
        started.stderr,
    ), started.stderr
    assert "fix: change what each message names, then run the command again" in started.stderr
    assert restarted.returncode == 1, restarted.stdout + restarted.stderr
    assert "web-1: unhealthy: ready in" in restarted.stderr and "fine-1" not in restarted.stderr


def test_a_start_that_times_out_says_what_the_tcp_or_exec_probe_last_answered(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology({"raw": _tcp(b, "--listen-after", "600"), "job": _job(b + 1, "600")})

    started = sandbox.cli("start-all", "--timeout", "3")

    assert started.returncode == 1
    assert f"raw-1: timeout: not ready after 3.0 s: its TCP probe found nothing listening on 127.0.0.1:{b}" in (
        started.stderr
    )
    assert 'for a service that opens no port set services.raw.probe = "exec" or "none"' in started.stderr
    assert (
        "job-1: timeout: not ready after 3.0 s: its probe command last exited with 3 (not ready: job-1.ready is "
        "missing)"
    ) in started.stderr


def test_a_changed_probe_kind_is_drift_and_the_running_instance_is_left_as_it_is(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology({"raw": _tcp(b)})
    assert sandbox.start().ok
    pid = sandbox.record("raw-1").pid
    sandbox.write_topology({"raw": {**_tcp(b), "probe": "none"}})

    started = sandbox.cli("start-all")
    status = sandbox.cli("status")

    assert started.returncode == 1
    assert 'raw-1: outdated: is probed by "tcp", the topology now says "none": restart it' in started.stderr
    assert 'raw-1: is probed by "tcp", the topology now says "none": restart it' in status.stdout
    # Still probed as it was started: its TCP probe answers.
    assert _rows(status.stdout)["raw-1"][1] == "healthy"
    assert sandbox.record("raw-1").pid == pid


def test_a_probe_timeout_lets_a_slow_ready_path_answer_and_kills_a_slower_check_in_start_all_and_status(
    sandbox: Sandbox,
) -> None:
    # The ready path answers after 1.5 s, past the 1 s a request gets by default; the check looks after 1.5 s, well
    # within the 5 s a command gets by default, and within status's --timeout.
    b = sandbox.base
    slow_web = service("orchestration", 1, b, "--answer-after", "1.5", probe_timeout=4, startup_timeout=20)
    sandbox.write_topology(
        {"web": slow_web, "job": _job(b + 10, "0", "--delay", "1.5", probe_timeout=0.5, startup_timeout=3)}
    )

    started = sandbox.cli("start-all")
    status = sandbox.cli("status", "--timeout", "6")

    assert started.returncode == 1, started.stdout + started.stderr
    assert "web-1" in started.stdout and "ready" in _rows_of_events(started.stdout)["web-1"]
    assert (
        "job-1: timeout: not ready after 3.0 s: its probe command did not finish within its timeout and was killed: "
        "it must exit (0 once the instance is ready) within 0.5 s, or a longer services.job.probe_timeout gives it time"
    ) in started.stderr
    rows = _rows(status.stdout)
    assert rows["web-1"][1] == "healthy", status.stdout
    assert rows["job-1"][1] == "unhealthy" and rows["job-1"][8:] == ["exec", "timeout"], status.stdout
    assert sandbox.record("job-1").probe_timeout == 0.5


def _rows_of_events(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines() if line.strip()}
