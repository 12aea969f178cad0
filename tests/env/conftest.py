"""A throwaway project folder with its own topology on free ports, and the real `cluster` CLI to run in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasker_cluster.db.credentials import Credentials, generate_credentials, write_credentials
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

CLUSTER = str(Path(sys.executable).with_name("cluster"))
# Variables that would steer the CLI from outside the test: counts, DATABASE_URL, the project folder.
_STEERING = ("DATABASE_URL", "TASKER_ORCHESTRATION_INSTANCES", "TASKER_WORKER_INSTANCES", "TASKER_PROJECT_DIR")


@dataclass(frozen=True)
class EnvProject:
    project: Project
    orchestration_base: int
    worker_a_base: int
    worker_b_base: int
    database_port: int

    def write_topology(self, *, database_port: int | None = None, mode: str = "local", extra: str = "") -> None:
        port = self.database_port if database_port is None else database_port
        self.project.config_file.write_text(
            "[database]\n"
            f'mode = "{mode}"\nport = {port}\nname = "tasker_envtest"\n\n'
            "[services.orchestration]\n"
            f'role = "orchestration"\ncount = 2\nbase_port = {self.orchestration_base}\n'
            'command = ["{python}", "-c", "pass", "--port", "{port}"]\n'
            f"{extra}\n"
            "[services.worker-a]\n"
            f'role = "worker"\ncount = 2\nbase_port = {self.worker_a_base}\n'
            'command = ["{python}", "-c", "pass", "--port", "{port}"]\n'
            'env = { WORKER_NAME = "{name}" }\n\n'
            "[services.worker-b]\n"
            f'role = "worker"\ncount = 2\nbase_port = {self.worker_b_base}\n'
            'command = ["{python}", "-c", "pass", "--port", "{port}"]\n'
        )

    def urls(self, base: int, count: int) -> str:
        return ",".join(f"http://127.0.0.1:{base + offset}" for offset in range(count))

    def leave_database_files(self) -> Credentials:
        """The files of a local database as `cluster db up` leaves them that setup-env reads (the data folder's
        PG_VERSION and password file); setup-env never connects, so no server runs."""
        data_dir = self.project.database_dir
        data_dir.mkdir(parents=True)
        (data_dir / "PG_VERSION").write_text("15\n")
        credentials = generate_credentials()
        write_credentials(data_dir, credentials)
        return credentials


@pytest.fixture
def env_project(tmp_path: Path) -> EnvProject:
    base = find_free_port_block(31)
    project = Project(tmp_path)
    project.config_file.parent.mkdir(parents=True)
    created = EnvProject(project, base, base + 10, base + 20, base + 30)
    created.write_topology()
    return created


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(env_project: EnvProject) -> RunCli:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {key: value for key, value in os.environ.items() if key not in _STEERING}
        return subprocess.run(
            [CLUSTER, "--project-dir", str(env_project.project.root), *args],
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
