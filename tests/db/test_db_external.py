"""An external server named by DATABASE_URL is used as is: probed, given PGMQ, never stopped or reset unasked."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tasker_cluster.db.binaries import find_bindir
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.server import LocalServer
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

from .conftest import run_cli

pytestmark = pytest.mark.db


def _accepts_connections(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


@pytest.fixture
def own_server() -> Iterator[LocalServer]:
    """A server of this test alone, which `db down --yes` may stop without harming the shared one."""
    root = Path(tempfile.mkdtemp(prefix="tasker-test-ext-"))
    os.chmod(root, 0o755)
    server = LocalServer(find_bindir(), root / "postgres", find_free_port_block(1), max_connections=20, durable=False)
    try:
        server.initialize()
        server.start()
        yield server
    finally:
        server.stop(grace_s=5)
        shutil.rmtree(root, ignore_errors=True)


def test_up_with_an_external_url_installs_pgmq_there_and_starts_nothing(
    db_project: Project, empty_database_url: str
) -> None:
    result = run_cli(db_project, "db", "up", env={"DATABASE_URL": empty_database_url})
    assert result.returncode == 0, result.stderr
    assert "installed PGMQ" in result.stderr
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)
    assert existing_data_dir(db_project) is None


def test_down_refuses_to_stop_an_external_server_from_dotenv(db_project: Project, database_url: str) -> None:
    db_project.env_file.write_text(f"DATABASE_URL={database_url}\n")
    result = run_cli(db_project, "db", "down")
    assert result.returncode == 1
    assert "external server" in result.stderr and "--yes" in result.stderr
    assert _accepts_connections(database_url)


def test_reset_refuses_an_external_database_without_yes(db_project: Project, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('precious')")
    result = run_cli(db_project, "db", "reset", env={"DATABASE_URL": database_url})
    assert result.returncode == 1 and "--yes" in result.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT queue_name FROM pgmq.list_queues()").fetchall() == [("precious",)]


def test_status_probes_an_external_server(db_project: Project, database_url: str) -> None:
    result = run_cli(db_project, "db", "status", "--json", env={"DATABASE_URL": database_url})
    report = json.loads(result.stdout)
    assert report["kind"] == "external" and report["external"] is True
    assert report["running"] is True and report["pgmq_version"] and report["data_dir"] is None


def test_an_unreachable_external_server_is_a_clear_error(db_project: Project) -> None:
    dead_url = f"postgresql://postgres@127.0.0.1:{find_free_port_block(1)}/nowhere"
    up = run_cli(db_project, "db", "up", env={"DATABASE_URL": dead_url})
    assert up.returncode == 1
    assert "cannot connect to the external database" in up.stderr and "fix:" in up.stderr
    assert "Traceback" not in up.stderr
    status = json.loads(run_cli(db_project, "db", "status", "--json", env={"DATABASE_URL": dead_url}).stdout)
    assert status["running"] is False and status["problem"]


def test_down_with_yes_stops_an_external_loopback_server(db_project: Project, own_server: LocalServer) -> None:
    url = own_server.superuser_url("postgres")
    result = run_cli(db_project, "db", "down", "--yes", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert own_server.running() is None
    assert not _accepts_connections(url)
