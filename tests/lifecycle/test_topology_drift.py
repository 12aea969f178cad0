"""The running cluster against the topology: drift, extra instances and `cluster config`, with real servers."""

from __future__ import annotations

import json
import tomllib

import pytest

from support.sandbox import Sandbox, service


def test_start_all_and_status_say_what_runs_off_the_topology_and_stop_nothing(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology({"worker": service("worker", 2, b + 10)})
    assert sandbox.start().ok
    first, second = sandbox.record("worker-1").pid, sandbox.record("worker-2").pid
    # The count lowered and the ports shifted: worker-1 now belongs on b + 11, where worker-2 still runs; a new
    # service wants b + 10, where worker-1 still runs.
    sandbox.write_topology({"worker": service("worker", 1, b + 11), "spare": service("worker", 1, b + 10)})

    started = sandbox.cli("start-all", "--timeout", "600")
    status = sandbox.cli("status")

    assert started.returncode == 1
    errors = started.stderr
    assert f"worker-1: outdated: runs on {b + 10}, the topology now says {b + 11}: restart it" in errors
    assert f"spare-1: port-taken: port {b + 10} is taken by worker-1 (pid {first} (" in errors
    assert "), an instance of this cluster" in errors
    assert (
        f"warning: worker-2 (pid {second}, port {b + 11}) runs but the topology no longer has it: "
        "`cluster stop worker-2` stops it"
    ) in errors
    assert "restart what runs from an earlier topology: `cluster restart worker-1`" in errors
    rows = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:4]}
    assert rows == {"worker-1": "healthy", "spare-1": "stopped", "worker-2": "healthy"}, status.stdout
    assert f"worker-1: runs on {b + 10}, the topology now says {b + 11}: restart it" in status.stdout
    assert "worker-2: not in the topology any more: `cluster stop worker-2` stops it" in status.stdout
    assert sandbox.record("worker-1").pid == first and sandbox.record("worker-2").pid == second

    assert sandbox.cli("stop", "worker-1", "worker-2").returncode == 0
    again = sandbox.cli("start-all")
    assert again.returncode == 0, again.stderr
    assert sandbox.record("worker-1").port == b + 11 and sandbox.record("spare-1").port == b + 10


def test_a_changed_command_is_drift_too(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base)})
    assert sandbox.start().ok
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--ready-after", "0.1")})

    started = sandbox.cli("start-all")

    assert started.returncode == 1
    assert "orchestration-1: outdated: runs the command it was started with, which the topology has changed since" in (
        started.stderr
    )


def test_a_changed_probe_path_is_drift_too_and_the_old_path_is_still_probed(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base)})
    assert sandbox.start().ok
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, ready_path="/ready")})

    started = sandbox.cli("start-all")
    status = sandbox.cli("status")

    assert started.returncode == 1
    drift = "is probed at its ready path /health/ready, the topology now says /ready: restart it"
    assert f"orchestration-1: outdated: {drift}" in started.stderr
    assert f"orchestration-1: {drift}" in status.stdout
    assert status.stdout.splitlines()[1].split()[1] == "healthy", status.stdout


def test_two_changes_are_both_named_by_start_all_status_and_status_json(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base)})
    assert sandbox.start().ok
    changed = service("orchestration", 1, sandbox.base, "--ready-after", "0.1", ready_path="/ready")
    sandbox.write_topology({"orchestration": changed})

    started = sandbox.cli("start-all")
    status = sandbox.cli("status")
    as_json = sandbox.cli("status", "--json")

    both = (
        "runs the command it was started with, which the topology has changed since; "
        "is probed at its ready path /health/ready, the topology now says /ready"
    )
    assert started.returncode == 1
    assert f"orchestration-1: outdated: {both}: restart it" in started.stderr
    assert f"orchestration-1: {both}: restart it" in status.stdout
    assert json.loads(as_json.stdout)["instances"][0]["drift"] == both


def test_config_shows_every_instance_and_where_each_count_comes_from(sandbox: Sandbox) -> None:
    b = sandbox.base
    sandbox.write_topology({"orchestration": service("orchestration", 1, b), "worker": service("worker", 2, b + 10)})
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=3\n")

    as_toml = sandbox.cli("config", "--orchestration", "2")
    as_json = sandbox.cli("config", "--json")
    started = sandbox.cli("start-all", "--no-wait")

    assert as_toml.returncode == 0, as_toml.stderr
    document = tomllib.loads(as_toml.stdout)
    assert document["counts"]["orchestration"] == {
        "count": 2,
        "origin": "flag",
        "source": "--orchestration 2",
        "file_count": 1,
    }
    assert document["counts"]["worker"]["origin"] == ".env" and document["counts"]["worker"]["count"] == 3
    assert [(i["name"], i["port"]) for i in document["instances"]] == [
        ("orchestration-1", b),
        ("orchestration-2", b + 1),
        ("worker-1", b + 10),
        ("worker-2", b + 11),
        ("worker-3", b + 12),
    ]
    worker = document["instances"][2]
    assert worker["argv"][-4:] == ["--port", str(b + 10), "--name", "worker-1"]
    assert {"TASKER_INSTANCE_ID", "TASKER_INSTANCE_PORT", "TASKER_INSTANCE_TOKEN"} <= set(worker["env_keys"])
    assert json.loads(as_json.stdout)["counts"]["orchestration"]["origin"] == "file"
    assert f"note: 3 worker instances from TASKER_WORKER_INSTANCES in {sandbox.project.env_file}" in started.stderr


@pytest.mark.parametrize(
    ("database", "env", "shown"),
    [
        ("none", {}, {"mode": "none"}),
        ("local", {"DATABASE_URL": "postgresql://app@127.0.0.1:1/app"}, {"mode": "local", "external": True}),
    ],
    ids=["no-database", "external"],
)
def test_config_shows_no_local_port_for_a_database_that_has_none(
    sandbox: Sandbox, database: str, env: dict[str, str], shown: dict[str, object]
) -> None:
    """As docker compose config shows only what is defined: without a database there is no port, and with an
    external one its URL's source counts, not the local server's port, which nothing uses."""
    sandbox.write_topology({"worker": service("worker", 1, sandbox.base)}, database=database)

    result = sandbox.cli("config", env=env)

    assert result.returncode == 0, result.stderr
    document = tomllib.loads(result.stdout)["database"]
    assert "port" not in document
    assert {key: document[key] for key in shown} == shown
    if env:
        assert document["external_source"] == "environment"
