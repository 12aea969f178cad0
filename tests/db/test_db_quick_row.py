"""Whether the project's database server runs, from its files alone: correct, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tasker_cluster.config.load import load_database_config
from tasker_cluster.db.quick import DatabaseProcess, database_process
from tasker_cluster.project import Project

from .conftest import run_cli, write_config


def _process(project: Project) -> DatabaseProcess:
    return database_process(project, load_database_config(project))


def test_importing_the_lifecycle_loads_neither_psycopg_nor_pydantic() -> None:
    probe = (
        "import sys, tasker_cluster.db.control as m; "
        "print(sorted(n for n in ('psycopg', 'pydantic', 'pgmq') if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_project_without_a_server_is_local_and_stopped(tmp_path: Path) -> None:
    write_config(tmp_path, 24000)
    row = _process(Project(tmp_path))
    assert (row.kind, row.running, row.pid, row.port) == ("local", False, None, 24000)


def test_mode_none_is_reported_as_none(tmp_path: Path) -> None:
    write_config(tmp_path, 24000, mode="none")
    assert _process(Project(tmp_path)).kind == "none"


def test_an_external_url_in_dotenv_is_external_without_touching_the_network(tmp_path: Path) -> None:
    write_config(tmp_path, 24000)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://app@db.invalid:5432/app\n")
    row = _process(Project(tmp_path))
    assert (row.kind, row.running) == ("external", None)


@pytest.mark.db
def test_a_running_local_server_shows_its_pid_and_port_until_it_stops(db_project: Project) -> None:
    assert run_cli(db_project, "db", "up").returncode == 0
    row = _process(db_project)
    assert row.running is True and row.pid is not None and row.uptime_s is not None
    assert row.port == int(run_cli(db_project, "db", "url").stdout.strip().rsplit(":", 1)[1].split("/")[0])
    run_cli(db_project, "db", "down")
    assert _process(db_project).running is False
