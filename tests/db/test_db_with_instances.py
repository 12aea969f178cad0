"""The database under running instances: `db reset` refuses to drop it from under them; `db down` stops it and
warns, naming them (they wait for it to come back, as after any outage). Real instances, a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import tomli_w

from support.sandbox import Sandbox, service
from tasker_cluster.db.location import existing_data_dir

from .conftest import stop_local_server


@pytest.fixture
def running_cluster(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Two instances running (started without a database), then a `[database]` of the project's own on a free
    port: the records say they run, whatever the topology says of the database now."""
    services = {
        "orchestration": service("orchestration", 1, sandbox.base),
        "worker": service("worker", 1, sandbox.base + 10),
    }
    sandbox.write_topology(services)
    sandbox.start()
    database = {"mode": "local", "port": sandbox.base + 19, "max_connections": 50}
    sandbox.project.config_file.write_text(tomli_w.dumps({"database": database, "services": services}))
    try:
        yield sandbox
    finally:
        stop_local_server(sandbox.project, sandbox.base + 19)
        shutil.rmtree(sandbox.project.fallback_state_dir, ignore_errors=True)


def test_reset_refuses_while_instances_run_naming_them_and_touches_nothing(running_cluster: Sandbox) -> None:
    result = running_cluster.cli("db", "reset", "--yes")

    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "orchestration-1, worker-1" in result.stderr
    assert "  fix: `cluster stop`" in result.stderr
    assert "Traceback" not in result.stderr
    assert existing_data_dir(running_cluster.project) is None, "the reset went ahead"
    assert running_cluster.record("orchestration-1")  # still recorded: nothing was stopped


def test_reset_at_a_terminal_refuses_before_it_asks(running_cluster: Sandbox) -> None:
    """A yes must never be answered with a refusal: at a terminal, the running instances are named before the
    question is asked. The yes is typed ahead: asked first, the command would read it, then refuse."""
    terminal, user_side = os.openpty()
    try:
        os.write(terminal, b"y\n")
        result = running_cluster.cli("db", "reset", stdin=user_side, timeout=30)
    finally:
        os.close(terminal)
        os.close(user_side)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "orchestration-1, worker-1" in result.stderr
    assert "Drop and recreate" not in result.stdout + result.stderr
    assert existing_data_dir(running_cluster.project) is None, "the reset went ahead"


def test_down_stops_the_database_and_warns_naming_the_instances_still_running(running_cluster: Sandbox) -> None:
    up = running_cluster.cli("db", "up", timeout=120)
    assert up.returncode == 0, up.stderr

    result = running_cluster.cli("db", "down")

    assert result.returncode == 0, result.stderr
    assert "database stopped" in result.stdout
    assert "warning: orchestration-1, worker-1 still run" in result.stderr
    assert "`cluster stop`" in result.stderr
