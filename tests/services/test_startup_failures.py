"""An instance that cannot start says why and how to fix it in one line, and exits non-zero without a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from service_instances import spawn_service

from tasker_cluster.proc.ports import find_free_port_block


def failure_output(
    role: str, tmp_path: Path, database_url: str | None, *args: str, port: int | None = None
) -> tuple[int, str]:
    instance = spawn_service(role, f"{role}-1", database_url, tmp_path, args, port=port)
    code = instance.process.wait(timeout=30)
    return code, instance.log()


def assert_one_line_error(output: str, *phrases: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for phrase in phrases:
        assert phrase in lines[0], output


@pytest.mark.parametrize("role", ["orchestration", "worker"])
def test_without_database_url_the_instance_names_the_variable_and_the_fix(role: str, tmp_path: Path) -> None:
    code, output = failure_output(role, tmp_path, None)
    assert code != 0
    assert_one_line_error(output, "DATABASE_URL is not set", "fix:", "cluster db up")


def test_a_database_url_that_is_not_a_connection_string_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    code, output = failure_output("worker", tmp_path, "host=x =bad")
    assert code != 0
    assert_one_line_error(output, "DATABASE_URL is not a valid connection string", "fix: correct DATABASE_URL")


def test_a_database_that_stays_down_is_waited_for_until_the_startup_timeout_then_reported_with_the_fix(
    tmp_path: Path,
) -> None:
    nobody_listens = find_free_port_block(1)
    url = f"postgresql://postgres@127.0.0.1:{nobody_listens}/tasker"
    instance = spawn_service("worker", "worker-1", url, tmp_path, ["--startup-timeout", "1.5"])
    code = instance.process.wait(timeout=30)
    lines = instance.log().strip().splitlines()
    where = f"127.0.0.1:{nobody_listens}/tasker"
    assert code != 0
    waits = [line for line in lines if "waiting for the database" in line]
    assert len(waits) >= 2 and all(where in line and "Connection refused" in line for line in waits), lines
    assert_one_line_error(lines[-1], f"cannot connect to the database at {where}", "start-up timeout", "cluster db up")


def test_a_port_already_taken_is_reported_before_touching_the_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = failure_output("worker", tmp_path, "postgresql://nobody@127.0.0.1:1/x", port=port)
    assert code != 0
    assert_one_line_error(output, f"port {port} on 127.0.0.1 is already in use")


def test_a_broken_template_stops_the_orchestration_with_a_configuration_exit_code(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "bad.toml").write_text('namespace = "x"\nname = "y"\n')
    unused_url = "postgresql://nobody@127.0.0.1:1/x"
    code, output = failure_output("orchestration", tmp_path, unused_url, "--templates", str(templates))
    assert code == 2
    assert_one_line_error(output, "bad.toml", "steps")
