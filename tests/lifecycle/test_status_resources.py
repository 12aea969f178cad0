"""CPU, memory and reasons in `status`/`status-quick`, and a broken config/cluster.toml shown as a warning: the real
CLI against real instances (the test server)."""

from __future__ import annotations

import json

import psutil
import pytest

from support.sandbox import Sandbox, service

MIB = 1 << 20
HELD_MIB = 64


def _rows(document: dict) -> dict[str, dict]:
    return {row["name"]: row for row in document["instances"]}


def _busy_and_holding(sandbox: Sandbox) -> None:
    """orchestration-1 keeps a core busy; worker-1's child (same session) holds HELD_MIB MiB."""
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base, "--burn"),
            "worker": service("worker", 1, sandbox.base + 10, "--child-holding-mib", str(HELD_MIB)),
        }
    )
    assert sandbox.start().ok


def test_status_json_gives_the_cpu_and_memory_of_each_instances_whole_process_group(sandbox: Sandbox) -> None:
    _busy_and_holding(sandbox)
    leader = psutil.Process(sandbox.record("worker-1").pid)

    result = sandbox.cli("status", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(json.loads(result.stdout))
    busy, holding = rows["orchestration-1"], rows["worker-1"]
    # The child's memory counts: the group holds the leader's own RSS and the child's HELD_MIB.
    assert holding["rss_bytes"] >= leader.memory_info().rss + (HELD_MIB - 4) * MIB
    # Measured over the command's own window, not since start.
    assert 0.2 <= busy["cpu_window_s"] < 2.5
    assert busy["cpu_percent"] > 5 * max(holding["cpu_percent"], 1.0), (busy, holding)


def test_memory_the_group_shares_is_counted_once(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--sharing-mib", "64")})
    assert sandbox.start().ok
    leader = psutil.Process(sandbox.record("orchestration-1").pid)
    (child,) = leader.children()

    rss = _rows(json.loads(sandbox.cli("status-quick", "--json").stdout))["orchestration-1"]["rss_bytes"]

    summed = leader.memory_info().rss + child.memory_info().rss
    assert summed >= 2 * 64 * MIB
    assert 64 * MIB <= rss <= summed - (64 - 8) * MIB


def test_status_quick_gives_the_average_cpu_since_start_and_the_memory_without_waiting(sandbox: Sandbox) -> None:
    _busy_and_holding(sandbox)

    result = sandbox.cli("status-quick", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(json.loads(result.stdout))
    busy, holding = rows["orchestration-1"], rows["worker-1"]
    assert busy["cpu_window_s"] == pytest.approx(busy["uptime_s"], abs=0.5)
    assert busy["cpu_percent"] > holding["cpu_percent"]
    assert holding["rss_bytes"] >= HELD_MIB * MIB


def test_the_table_shows_cpu_and_rss_columns(sandbox: Sandbox) -> None:
    _busy_and_holding(sandbox)

    result = sandbox.cli("status")

    header, *lines = result.stdout.splitlines()
    assert header.split() == ["INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH"]
    cells = {line.split()[0]: line.split() for line in lines}
    assert cells["worker-1"][5].endswith("%") and cells["worker-1"][7] == "MiB"
    assert int(cells["worker-1"][6]) >= HELD_MIB


def test_every_instance_that_is_not_healthy_carries_a_reason_in_json(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "slow": service("worker", 1, sandbox.base + 10, "--ready-after", "60", startup_timeout=120),
            "gone": service("worker", 2, sandbox.base + 20),
        }
    )
    assert sandbox.start(["orchestration-1", "gone"]).ok
    assert not sandbox.start(["slow"], timeout=0.5).ok
    victim = psutil.Process(sandbox.record("gone-1").pid)
    victim.kill()
    psutil.wait_procs([victim], timeout=10)
    sandbox.stop(["gone-2"])

    status = json.loads(sandbox.cli("status", "--json").stdout)
    quick = json.loads(sandbox.cli("status-quick", "--json").stdout)

    assert {name: (row["status"], row["reason"]) for name, row in _rows(status).items()} == {
        "orchestration-1": ("healthy", None),
        "slow-1": ("starting", "ready: 503"),
        "gone-1": ("dead", "the PID file outlived its process"),
        "gone-2": ("stopped", "no PID file: not started, or stopped"),
    }
    assert {name: row["reason"] for name, row in _rows(quick).items()} == {
        "orchestration-1": None,
        "slow-1": None,
        "gone-1": "the PID file outlived its process",
        "gone-2": "no PID file: not started, or stopped",
    }
    assert _rows(status)["gone-1"]["rss_bytes"] is None and _rows(status)["gone-1"]["cpu_percent"] is None


@pytest.mark.parametrize("command", ["status", "status-quick"])
def test_a_broken_topology_file_is_a_warning_over_what_the_pid_records_know(sandbox: Sandbox, command: str) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    sandbox.project.config_file.write_text(
        sandbox.project.config_file.read_text().replace("count = 1", "count = 1\nstartup_timout = 5", 1)
    )

    table = sandbox.cli(command)
    document = sandbox.cli(command, "--json")

    assert table.returncode == 1 and document.returncode == 1
    assert "Traceback" not in table.stderr
    warning, fix = table.stderr.splitlines()
    assert warning.startswith(f"warning: showing what the PID records know: {sandbox.project.config_file}: services.")
    assert warning.endswith("startup_timout: unknown key")
    assert fix.startswith("  fix: remove `services.")
    fine = "healthy" if command == "status" else "running"
    assert [line.split()[:2] for line in table.stdout.splitlines()[1:]] == [
        ["orchestration-1", fine],
        ["worker-1", fine],
    ]
    parsed = json.loads(document.stdout)
    assert [row["status"] for row in parsed["instances"]] == [fine, fine]
    assert parsed["warnings"][0]["message"] == warning.removeprefix("warning: ")
    assert parsed["healthy" if command == "status" else "running"] is False


def test_a_topology_file_that_is_not_toml_still_shows_the_running_instances_in_order(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "worker-a": service("worker", 2, sandbox.base + 10),
            "worker-b": service("worker", 2, sandbox.base + 12),
        }
    )
    assert sandbox.start().ok
    sandbox.project.config_file.write_text("[services\n")

    result = sandbox.cli("status-quick")

    assert result.returncode == 1
    assert result.stderr.startswith(f"warning: showing what the PID records know: {sandbox.project.config_file} is not")
    names = ["orchestration-1", "worker-a-1", "worker-a-2", "worker-b-1", "worker-b-2"]
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [[name, "running"] for name in names]


@pytest.mark.parametrize("command", ["status", "status-quick"])
def test_a_folder_without_topology_or_records_is_no_cluster_and_says_so(sandbox: Sandbox, command: str) -> None:
    result = sandbox.cli(command)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    error, fix = result.stderr.splitlines()
    assert error == (
        f"error: no cluster here: {sandbox.project.config_file} not found, and no instance of {sandbox.root} has a "
        "PID file"
    )
    assert fix.startswith("  fix: run from a project folder, pass --project-dir")


def test_a_deleted_topology_file_still_shows_the_instances_its_records_name(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    sandbox.project.config_file.unlink()

    result = sandbox.cli("status-quick")

    assert result.returncode == 1
    assert result.stderr.startswith(
        f"warning: showing what the PID records know: topology file {sandbox.project.config_file} not found"
    )
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["orchestration-1", "running"],
        ["worker-1", "running"],
    ]
