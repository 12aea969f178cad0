"""A throwaway project with its own `[database]` port, driven through the real CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasker_cluster.db.binaries import find_bindir
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.server import LocalServer
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

# Variables a developer's shell may carry that would point the CLI at another project or server.
_SCRUBBED = ("DATABASE_URL", "TASKER_PROJECT_DIR", "TASKER_PG_BINDIR_SEARCH")


def write_config(root: Path, port: int, mode: str = "local", name: str = "tasker") -> None:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "cluster.toml").write_text(
        f'[database]\nmode = "{mode}"\nport = {port}\nname = "{name}"\nmax_connections = 50\n'
    )


def run_cli(
    project: Project, *args: str, env: dict[str, str] | None = None, stdin: int = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """`cluster ARGS` in `project`; `stdin` a file descriptor (a terminal's, say), else no input at all."""
    environment = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    environment.update(env or {})
    argv = [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project.root), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=environment, stdin=stdin, timeout=90)


def stop_local_server(project: Project, port: int) -> None:
    """Stop by data folder, not through the project's URL logic, which a test may have pointed elsewhere."""
    data_dir = existing_data_dir(project)
    if data_dir is not None:
        LocalServer(find_bindir(), data_dir, port).stop(grace_s=5)


@pytest.fixture
def db_project(tmp_path: Path) -> Iterator[Project]:
    """A project in pytest's 0700 temp folder, which the `postgres` user cannot enter: as root this exercises the
    /tmp fallback for the data folder, which the fixture removes afterwards."""
    port = find_free_port_block(1)
    write_config(tmp_path, port)
    project = Project(tmp_path)
    try:
        yield project
    finally:
        stop_local_server(project, port)
        shutil.rmtree(project.fallback_state_dir, ignore_errors=True)
