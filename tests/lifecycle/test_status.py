"""`status` probes concurrently and maps answers to states; `status-quick` reads PID files only."""

from __future__ import annotations

import json
import os
import signal

import psutil
import pytest

from support.sandbox import Sandbox, service, wait_listening
from tasker_cluster.cluster.status import InstanceStatus, StatusProbe, quick_status


def _probed(sandbox: Sandbox, timeout: float = 2.0) -> list[InstanceStatus]:
    """`cluster status`'s instance rows, probed under one `timeout`."""
    return StatusProbe(sandbox.project, sandbox.config(), timeout).result().instances


def _by_name(rows: list) -> dict[str, str]:
    return {row.name: row.status for row in rows}


def test_status_reports_healthy_instances_and_a_kill_9ed_one_as_dead(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    assert sandbox.start().ok
    victim = sandbox.record("worker-2").pid
    # The handle comes first: the killed process may be reaped before a later psutil.Process() could find it.
    doomed = psutil.Process(victim)
    os.kill(victim, signal.SIGKILL)
    psutil.wait_procs([doomed], timeout=10)

    result = sandbox.cli("status", "--json")

    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["healthy"] is False
    rows = {row["name"]: row for row in document["instances"]}
    assert {name: row["status"] for name, row in rows.items()} == {
        "orchestration-1": "healthy",
        "worker-1": "healthy",
        "worker-2": "dead",
    }
    assert list(rows["worker-1"]) == [
        "name",
        "service",
        "role",
        "status",
        "reason",
        "pid",
        "port",
        "url",
        "probe",
        "answer",
        "uptime_s",
        "http_status",
        "latency_ms",
        "cpu_percent",
        "cpu_window_s",
        "rss_bytes",
        "drift",
        "extra",
        "serving",
        "escaped",
    ]
    assert rows["worker-1"]["http_status"] == 200 and rows["worker-1"]["latency_ms"] >= 0
    assert rows["worker-2"]["pid"] == victim and rows["worker-2"]["http_status"] is None


def test_status_exits_0_with_a_table_when_every_instance_is_healthy(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok

    result = sandbox.cli("status")

    assert result.returncode == 0, result.stdout + result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH"]
    assert [line.split()[:2] for line in lines] == [["orchestration-1", "healthy"], ["worker-1", "healthy"]]
    assert lines[0].endswith(" ms")


@pytest.mark.timeout(30)
def test_status_with_hung_instances_returns_after_one_probe_timeout_and_reports_them(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "hung": service("worker", 3, sandbox.base + 10, "--hang"),
        }
    )
    assert sandbox.start(wait=False).ok
    assert sandbox.start(["orchestration"]).ok
    for offset in range(3):
        wait_listening(sandbox.base + 10 + offset)

    rows = _probed(sandbox, timeout=1.5)

    statuses = _by_name(rows)
    assert statuses == {"orchestration-1": "healthy", "hung-1": "starting", "hung-2": "starting", "hung-3": "starting"}
    assert [row.detail for row in rows[1:]] == ["health: timeout"] * 3


def test_status_separates_not_ready_yet_from_unhealthy(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "slow": service("orchestration", 1, sandbox.base, "--ready-after", "600"),
            "sick": service("worker", 1, sandbox.base + 10, "--health-status", "500"),
            # Listening takes a Python start-up, far longer than this startup window.
            "stuck": service("worker", 1, sandbox.base + 11, "--ready-after", "600", startup_timeout=0.01),
        }
    )
    assert sandbox.start(wait=False).ok
    for port in (sandbox.base, sandbox.base + 10, sandbox.base + 11):
        wait_listening(port)

    rows = {row.name: row for row in _probed(sandbox)}

    assert (rows["slow-1"].status, rows["slow-1"].http_status) == ("starting", 503)
    assert (rows["sick-1"].status, rows["sick-1"].http_status) == ("unhealthy", 500)
    assert (rows["stuck-1"].status, rows["stuck-1"].http_status) == ("unhealthy", 503)


def test_status_lists_configured_instances_without_pid_files_as_stopped(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)

    rows = _probed(sandbox)

    assert _by_name(rows) == {"orchestration-1": "stopped", "worker-1": "stopped"}
    assert rows[1].port == sandbox.base + 10


def test_status_quick_shows_running_dead_and_stopped_from_pid_files_alone(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    assert sandbox.start(["orchestration-1", "worker-1"]).ok
    victim = sandbox.record("worker-1").pid
    # The handle comes first: the killed process may be reaped before a later psutil.Process() could find it.
    doomed = psutil.Process(victim)
    os.kill(victim, signal.SIGKILL)
    psutil.wait_procs([doomed], timeout=10)

    rows = quick_status(sandbox.project, sandbox.config()).instances

    assert _by_name(rows) == {"orchestration-1": "running", "worker-1": "dead", "worker-2": "stopped"}
    assert rows[0].uptime_s is not None and rows[0].http_status is None


def test_status_keeps_listing_instances_started_with_a_larger_count_as_extra(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    result = sandbox.cli("start-all", "--workers", "2", "--no-wait")
    assert result.returncode == 0, result.stderr

    quick = sandbox.cli("status-quick")
    stopped = sandbox.cli("stop")

    _header, *rows, note = quick.stdout.splitlines()
    assert [line.split()[:2] for line in rows] == [
        ["orchestration-1", "running"],
        ["worker-1", "running"],
        ["worker-2", "running"],
    ]
    assert note == "worker-2: not in the topology any more: `cluster stop worker-2` stops it"
    assert quick.returncode == 0
    assert "worker-2" in stopped.stdout and stopped.returncode == 0


def test_status_quick_loads_neither_the_network_stack_nor_pydantic_nor_typer(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    heavy = ("httpx", "anyio", "psycopg", "pydantic", "typer", "tasker_cluster.proc.probes", "tasker_cluster.services")

    result = sandbox.cli_imports("status-quick", heavy)

    assert "LOADED []" in result.stdout, result.stdout + result.stderr


def test_start_status_and_stop_never_import_dataclasses(sandbox: Sandbox) -> None:
    # These commands' records are NamedTuples (why: tasker_cluster/__init__.py).
    sandbox.write_cluster(orchestration=1, workers=1)

    outputs = {}
    for command in ("start-all", "status", "status-quick", "stop"):
        result = sandbox.cli_imports(command, ("dataclasses",))
        assert result.stdout.endswith("LOADED []\n"), f"{command}:\n{result.stdout}{result.stderr}"
        outputs[command] = result.stdout

    assert "2 ready" in outputs["start-all"]
    assert outputs["status"].count(" healthy ") == 2
    assert outputs["status-quick"].count(" running ") == 2
    assert "worker-1" in outputs["stop"] and "stopped" in outputs["stop"]


def test_start_all_without_a_local_database_never_imports_psutil_or_http_client(sandbox: Sandbox) -> None:
    # psutil's import used to come in before the first spawn, through a constant: start-all reads /proc itself
    # (proc/processes.py) and needs psutil only for a local database's orphaned backends (db/postmaster.py).
    # http.client brings email and ssl: the probes write their request themselves and parse with httptools.
    sandbox.write_cluster(orchestration=1, workers=1)
    heavy = ("psutil", "http.client", "email.parser", "ssl")

    started = sandbox.cli_imports("start-all", heavy)
    quick = sandbox.cli_imports("status-quick", heavy)
    sandbox.cli("stop")

    assert "2 ready" in started.stdout and started.stdout.endswith("LOADED []\n"), started.stdout + started.stderr
    assert quick.stdout.count(" running ") == 2 and quick.stdout.endswith("LOADED []\n"), quick.stdout + quick.stderr


def test_unknown_instance_names_are_refused_listing_the_valid_ones(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)

    start = sandbox.cli("start", "worker-7")
    stop = sandbox.cli("stop", "worker-7")

    for result in (start, stop):
        assert result.returncode == 2
        assert "unknown instance worker-7" in result.stderr
        assert "orchestration-1, worker-1" in result.stderr
        assert "Traceback" not in result.stderr
