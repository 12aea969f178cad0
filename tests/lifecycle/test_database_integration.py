"""The database as part of the cluster: `start-all` brings it up first, `status` lists it first and counts it toward
healthy, `status-quick` reads its postmaster.pid, `stop --with-db` stops it after the instances, plain `stop` keeps it.

Projects live in pytest's 0700 temp folders, which the `postgres` user cannot enter: as root the data folder falls
back to /tmp/tasker-cluster-<hash>, which the fixture removes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import tomli_w
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console

from support.opens import count_opens
from support.sandbox import STEERING, Sandbox, server_command
from tasker_cluster.cluster.status import DatabaseRow
from tasker_cluster.cluster.stop import stop_instances
from tasker_cluster.config.load import database_config, load_database_config
from tasker_cluster.config.sources import read_sources
from tasker_cluster.db.control import ensure_database, stop_database
from tasker_cluster.db.credentials import read_credentials
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import processes_in
from tasker_cluster.db.quick import database_process
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project
from tasker_cluster.ui.status import status_table


def _up(project: Project) -> str:
    """`cluster db up`, through the core."""
    sources = read_sources(project, config_required=False)
    return ensure_database(project, database_config(sources), sources.dotenv)


@pytest.fixture
def fresh_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """Instances on base and base + 10, the local database (none yet) on base + 20; all stopped and removed after."""
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    sandbox = Sandbox(Project(tmp_path / "project"), find_free_port_block(21))
    sandbox.root.mkdir()
    write_cluster(sandbox)
    try:
        yield sandbox
    finally:
        try:
            stop_instances(sandbox.project, None, timeout=1.0)
        finally:
            stop_database(sandbox.project, load_database_config(sandbox.project))
            shutil.rmtree(sandbox.project.fallback_state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_template() -> Iterator[Path]:
    """A cold copy of a data folder holding the `tasker` database with PGMQ. Cloning it (~0.1 s) spares a test the
    durable initdb, CREATE DATABASE and PGMQ install (3-5 s on this 2-core machine while the suite runs)."""
    root = Path(tempfile.mkdtemp(prefix="tasker-lifecycle-template-"))
    os.chmod(root, 0o755)  # as root the server runs as `postgres`, which must reach the data folder
    project = Project(root)
    project.config_file.parent.mkdir(parents=True)
    project.config_file.write_text(tomli_w.dumps({"database": {"port": find_free_port_block(1)}}))
    try:
        _up(project)
        stop_database(project, load_database_config(project))
        data_dir = existing_data_dir(project)
        assert data_dir is not None
        yield data_dir
    finally:
        stop_database(project, load_database_config(project))
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(project.fallback_state_dir, ignore_errors=True)


@pytest.fixture
def box(fresh_box: Sandbox, database_template: Path) -> Sandbox:
    """`fresh_box` whose database is initialized but not running, as after `cluster db up` then `cluster db down`."""
    target = fresh_box.project.fallback_database_dir
    target.parent.mkdir(mode=0o755)
    os.chmod(target.parent, 0o755)
    # cp -a keeps the owner (`postgres` when we are root) and the 0700 mode PostgreSQL insists on.
    subprocess.run(["cp", "-a", str(database_template), str(target)], check=True)
    return fresh_box


def write_cluster(box: Sandbox, mode: str = "local") -> None:
    """One orchestration and one worker instance that echo their DATABASE_URL on /env."""
    options = ("--echo-env", "DATABASE_URL")
    document: dict[str, Any] = {
        "database": {"mode": mode, "port": database_port(box), "max_connections": 50},
        "services": {
            "orchestration": {"role": "orchestration", "count": 1, "base_port": box.base},
            "worker": {"role": "worker", "count": 1, "base_port": box.base + 10},
        },
    }
    for table in document["services"].values():
        table["command"] = server_command(*options)
    box.project.config_file.parent.mkdir(parents=True, exist_ok=True)
    box.project.config_file.write_text(tomli_w.dumps(document))


def database_port(box: Sandbox) -> int:
    return box.base + 20


def app_password(box: Sandbox) -> str:
    """The application role's password, as `db up` generated it into the data folder."""
    data_dir = existing_data_dir(box.project)
    credentials = read_credentials(data_dir) if data_dir is not None else None
    assert credentials is not None
    return credentials.app_password


def local_url(box: Sandbox) -> str:
    return f"postgresql://tasker:{app_password(box)}@127.0.0.1:{database_port(box)}/tasker"


def echoed_database_url(port: int) -> str | None:
    response = httpx.get(f"http://127.0.0.1:{port}/env", trust_env=False, timeout=10)
    response.raise_for_status()
    return response.json()["DATABASE_URL"]


def status_json(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = box.cli(*args, "--json", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def run_ok(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = box.cli(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_cluster(box: Sandbox) -> None:
    """Setup through the core, in-process: a CLI start costs a Python start-up, which setup need not prove."""
    _up(box.project)
    report = box.start(timeout=30)
    assert report.ok, report.failed


def database_down(box: Sandbox) -> None:
    assert stop_database(box.project, load_database_config(box.project))


def closed_port() -> int:
    """A loopback port nothing listens on (another test may take it later; refused is all these tests need)."""
    return find_free_port_block(1)


@pytest.mark.db
def test_start_all_brings_up_the_local_database_first_and_hands_every_instance_its_url(fresh_box: Sandbox) -> None:
    result = run_ok(fresh_box, "start-all")

    assert f"started PostgreSQL on 127.0.0.1:{database_port(fresh_box)}" in result.stdout
    lines = result.stdout.splitlines()
    started = next(n for n, line in enumerate(lines) if "started PostgreSQL" in line)
    spawned = next(n for n, line in enumerate(lines) if " spawned " in line)
    assert started < spawned
    table = lines[lines.index(next(line for line in lines if line.startswith("INSTANCE"))) + 1 :]
    assert [line.split()[:2] for line in table] == [
        ["database", "healthy"],
        ["orchestration-1", "healthy"],
        ["worker-1", "healthy"],
    ]
    assert echoed_database_url(fresh_box.base) == echoed_database_url(fresh_box.base + 10) == local_url(fresh_box)
    with psycopg.connect(local_url(fresh_box)) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)
    assert app_password(fresh_box) not in result.stdout + result.stderr
    assert f"postgresql://tasker:***@127.0.0.1:{database_port(fresh_box)}/tasker" in result.stdout


@pytest.mark.db
def test_start_all_says_nothing_about_a_database_that_already_runs(box: Sandbox) -> None:
    _up(box.project)

    result = run_ok(box, "start-all")

    progress = result.stdout.split("INSTANCE")[0]
    assert "database" not in progress, progress
    assert echoed_database_url(box.base) == local_url(box)


@pytest.mark.db
def test_start_all_brings_the_database_back_when_every_instance_already_runs(box: Sandbox) -> None:
    start_cluster(box)
    database_down(box)
    assert database_process(box.project, load_database_config(box.project)).running is False

    result = run_ok(box, "start-all")

    assert "started PostgreSQL" in result.stdout
    assert " spawned " not in result.stdout  # the instances kept running; only the database was missing
    # In topology order, as they happen: the database the instances need first, then the instances found running.
    progress = [line.split()[0] for line in result.stdout.split("INSTANCE")[0].splitlines()]
    assert progress.index("orchestration-1") > max(n for n, name in enumerate(progress) if name == "database")
    assert database_process(box.project, load_database_config(box.project)).running is True


@pytest.mark.db
def test_start_all_starts_no_instance_when_the_database_port_is_taken(box: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", database_port(box))):
        result = box.cli("start-all")

    assert result.returncode == 1
    assert "error: the database is not available, so no instance was started" in result.stderr
    assert f"port {database_port(box)}" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(box.project.pids_dir.glob("*.pid"))


def test_start_all_with_an_unreachable_external_database_starts_nothing(fresh_box: Sandbox) -> None:
    external = f"postgresql://app@127.0.0.1:{closed_port()}/app"

    result = fresh_box.cli("start-all", env={"DATABASE_URL": external})

    assert result.returncode == 1
    assert "no instance was started: cannot connect to the external database" in result.stderr
    assert "correct DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
    assert not list(fresh_box.project.pids_dir.glob("*.pid"))
    assert existing_data_dir(fresh_box.project) is None  # an external URL is probed, never replaced by a local server


@pytest.mark.db
def test_status_lists_the_database_first_and_is_unhealthy_once_the_database_stops(box: Sandbox) -> None:
    start_cluster(box)
    postmaster = database_process(box.project, load_database_config(box.project)).pid

    code, document = status_json(box, "status")
    database_down(box)
    code_after, after = status_json(box, "status")
    quick_code, quick = status_json(box, "status-quick")

    assert code == 0 and document["healthy"] is True
    database = document["database"]
    assert (database["kind"], database["status"], database["pid"]) == ("local", "healthy", postmaster)
    assert database["port"] == database_port(box) and database["latency_ms"] >= 0
    assert database["uptime_s"] >= 0
    assert [row["name"] for row in document["instances"]] == ["orchestration-1", "worker-1"]
    assert code_after == 1 and after["healthy"] is False
    assert after["database"]["status"] == "stopped"
    assert {row["status"] for row in after["instances"]} == {"healthy"}
    assert quick_code == 1 and quick["running"] is False and quick["database"]["status"] == "stopped"


@pytest.mark.db
def test_status_reports_a_kill_9ed_database_as_dead(box: Sandbox) -> None:
    _up(box.project)
    data_dir = existing_data_dir(box.project)
    assert data_dir is not None
    postmaster = psutil.Process(database_process(box.project, load_database_config(box.project)).pid or 0)
    os.kill(postmaster.pid, signal.SIGKILL)
    psutil.wait_procs([postmaster], timeout=10)

    code, document = status_json(box, "status")
    quick_code, quick = status_json(box, "status-quick")

    for status, row in ((code, document["database"]), (quick_code, quick["database"])):
        assert status == 1
        assert (row["status"], row["pid"]) == ("dead", postmaster.pid)
        assert "postmaster.pid outlived" in row["detail"]
    # The backends notice their postmaster's death and exit; wait for them before the folder is removed.
    psutil.wait_procs(processes_in(data_dir), timeout=30)


@pytest.mark.db
def test_status_quick_shows_the_running_database_without_loading_psycopg(box: Sandbox) -> None:
    _up(box.project)
    heavy = ("psycopg", "pydantic", "httpx", "anyio", "typer", "tasker_cluster.db.status")

    loaded = box.cli_imports("status-quick", heavy)
    code, document = status_json(box, "status-quick")

    assert "LOADED []" in loaded.stdout, loaded.stdout + loaded.stderr
    assert loaded.stdout.splitlines()[1].split()[:2] == ["database", "running"]
    row = database_process(box.project, load_database_config(box.project))
    assert document["database"]["status"] == "running"
    assert (document["database"]["pid"], document["database"]["port"]) == (row.pid, database_port(box))
    assert code == 1  # the instances are stopped


@pytest.mark.db
def test_each_command_reads_the_configuration_and_the_password_file_at_most_once(box: Sandbox) -> None:
    run_ok(box, "db", "up")  # first writes: .env gets the URL, then the instance files and counts
    run_ok(box, "setup-env")
    data_dir = existing_data_dir(box.project)
    assert data_dir is not None
    watched = [box.project.config_file, box.project.env_file, data_dir / "tasker_cluster.pgpass"]
    commands = [
        ["start-all"],
        ["status"],
        ["db", "status"],
        ["db", "url"],
        ["setup-env"],
        ["db", "up"],
        ["db", "reset", "--yes"],
        ["stop", "--with-db"],
    ]

    for command in commands:
        opens, result = count_opens(box.project, watched, *command)

        assert result.returncode == 0, result.stdout + result.stderr
        assert max(opens) <= 1, f"{' '.join(command)} opened {list(zip(map(str, watched), opens, strict=True))}"


@pytest.mark.db
def test_stop_with_db_stops_the_instances_then_the_database_and_leaves_no_postgres_process(box: Sandbox) -> None:
    start_cluster(box)
    data_dir = existing_data_dir(box.project)
    assert data_dir is not None and processes_in(data_dir)

    result = run_ok(box, "stop", "--with-db")

    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["orchestration-1", "stopped"],
        ["worker-1", "stopped"],
        ["database", "stopped"],
    ]
    assert processes_in(data_dir) == []
    assert not list(box.project.pids_dir.glob("*.pid"))


@pytest.mark.db
def test_plain_stop_leaves_the_database_running_and_says_so(box: Sandbox) -> None:
    start_cluster(box)

    result = run_ok(box, "stop")

    last = result.stdout.splitlines()[-1]
    assert last.split()[:2] == ["database", "left-running"] and "--with-db" in last
    with psycopg.connect(local_url(box), connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.db
def test_an_external_database_is_used_probed_shown_and_never_stopped_without_yes(
    fresh_box: Sandbox, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url}
    run_ok(fresh_box, "start-all", env=env)
    echoed = echoed_database_url(fresh_box.base)

    code, document = status_json(fresh_box, "status", env=env)
    stopped = run_ok(fresh_box, "stop", "--with-db", env=env)

    assert echoed == database_url
    assert code == 0, document
    database = document["database"]
    assert (database["kind"], database["status"], database["pid"]) == ("external", "healthy", None)
    assert database["port"] == int(conninfo_to_dict(database_url)["port"])
    last = stopped.stdout.splitlines()[-1]
    assert last.split()[:2] == ["database", "left-running"] and "external server" in last
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert existing_data_dir(fresh_box.project) is None


def test_status_counts_an_unreachable_external_database_as_unhealthy(fresh_box: Sandbox) -> None:
    env = {"DATABASE_URL": f"postgresql://app@127.0.0.1:{closed_port()}/app"}

    code, document = status_json(fresh_box, "status", env=env)
    quick_code, quick = status_json(fresh_box, "status-quick", env=env)

    assert code == 1 and document["healthy"] is False
    assert (document["database"]["kind"], document["database"]["status"]) == ("external", "unhealthy")
    assert document["database"]["detail"]
    assert (quick["database"]["kind"], quick["database"]["status"]) == ("external", "unknown")
    assert quick_code == 1  # for the stopped instances: status-quick cannot judge an external server


def test_status_gives_up_on_a_hung_database_at_its_own_timeout(fresh_box: Sandbox) -> None:
    # Accepts connections (the kernel completes the handshake) but never answers: libpq alone would wait >= 2 s.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        env = {"DATABASE_URL": f"postgresql://app@127.0.0.1:{hung.getsockname()[1]}/app"}
        code, document = status_json(fresh_box, "status", "--timeout", "0.3", env=env)

    assert code == 1
    database = document["database"]
    assert (database["status"], database["detail"]) == ("unhealthy", "external, no answer within 0.3 s")


def test_a_cluster_without_a_database_has_no_database_row(fresh_box: Sandbox) -> None:
    write_cluster(fresh_box, mode="none")
    run_ok(fresh_box, "start-all")

    code, document = status_json(fresh_box, "status")
    table = run_ok(fresh_box, "status-quick")

    assert code == 0 and document["database"] is None
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == ["orchestration-1", "worker-1"]
    assert echoed_database_url(fresh_box.base) is None


def test_stop_with_db_reports_the_stopped_instances_when_the_database_cannot_be_stopped(fresh_box: Sandbox) -> None:
    write_cluster(fresh_box, mode="none")
    assert fresh_box.start(timeout=30).ok
    write_cluster(fresh_box, mode="local")
    remote = {"DATABASE_URL": "postgresql://app@db.invalid:5432/app"}

    result = fresh_box.cli("stop", "--with-db", "--yes", env=remote)

    assert result.returncode == 1
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["orchestration-1", "stopped"],
        ["worker-1", "stopped"],
    ]
    assert "the instances were stopped, but the database was not: DATABASE_URL points at db.invalid" in result.stderr
    assert "fix: stop that server where it runs" in result.stderr and "Traceback" not in result.stderr


def test_a_long_database_error_wraps_in_the_health_column_and_squeezes_none_of_the_others() -> None:
    detail = "external, connection failed: " + "x" * 200
    row = DatabaseRow("external", "unhealthy", None, 5432, None, detail=detail)
    out = Console(width=80, file=io.StringIO())

    with out.capture() as captured:
        out.print(status_table([], row))

    lines = captured.get().splitlines()
    assert lines[1].split()[:3] == ["database", "unhealthy", "5432"]
    assert all(len(line) <= 80 for line in lines) and "…" not in captured.get()
    start = lines[0].index("HEALTH")
    # Every character of the error is there, in order (a word wider than the column is folded across lines).
    assert "".join(line[start:] for line in lines[1:]).replace(" ", "") == detail.replace(" ", "")
