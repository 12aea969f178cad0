"""A throwaway project folder with its own topology on free ports, driven through the core or the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import tomli_w

from tasker_cluster.cluster.start import start_instances
from tasker_cluster.cluster.start_results import StartReport
from tasker_cluster.cluster.stop import InstanceStop, stop_instances
from tasker_cluster.config.load import load_config
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.proc.records import InstanceRecord, read_record
from tasker_cluster.project import Project

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "tests" / "support" / "http_server.py"
CLUSTER = str(Path(sys.executable).with_name("cluster"))
Completed = subprocess.CompletedProcess[str]
# Variables that steer the CLI from outside; a developer's shell must not change what a test sees.
STEERING = ("TASKER_ORCHESTRATION_INSTANCES", "TASKER_WORKER_INSTANCES", "TASKER_PROJECT_DIR", "DATABASE_URL")


def server_command(*options: str) -> list[str]:
    return ["{python}", str(SERVER), "--port", "{port}", "--name", "{name}", *options]


def service(role: str, count: int, base_port: int | None, *options: str, **keys: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"role": role, "count": count, "command": server_command(*options)}
    if base_port is not None:
        table["base_port"] = base_port
    return {**table, **keys}


@dataclass
class Sandbox:
    project: Project
    base: int

    @property
    def root(self) -> Path:
        return self.project.root

    def write_topology(self, services: dict[str, dict[str, Any]], database: str = "none") -> None:
        self.project.config_file.parent.mkdir(parents=True, exist_ok=True)
        document = {"database": {"mode": database}, "services": services}
        self.project.config_file.write_text(tomli_w.dumps(document))

    def write_cluster(self, orchestration: int = 1, workers: int = 1, *options: str) -> None:
        """orchestration-1..N on base, worker-1..M on base + 10, all running the test server with `options`."""
        self.write_topology(
            {
                "orchestration": service("orchestration", orchestration, self.base, *options),
                "worker": service("worker", workers, self.base + 10, *options),
            }
        )

    def config(self, **counts: int | None) -> ClusterConfig:
        return load_config(self.project, **counts)

    def start(self, names: Sequence[str] = (), *, wait: bool = True, timeout: float | None = 20) -> StartReport:
        config = self.config()
        instances = config.select(names) if names else config.instances
        return start_instances(config, instances, wait=wait, timeout=timeout)

    def stop(self, names: Sequence[str] = (), *, timeout: float | None = None) -> list[InstanceStop]:
        """`cluster stop`: the configuration resolves service names, as the CLI's does."""
        config = self.config() if self.project.config_file.is_file() else None
        return stop_instances(self.project, config, names, timeout=timeout)

    def record(self, name: str) -> InstanceRecord:
        record = read_record(self.project, name)
        assert record is not None, f"no PID record for {name}"
        return record

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60, stdin: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`cluster ARGS` in this project; `stdin` a file descriptor (a terminal's, say), else this process's."""
        clean = {key: value for key, value in os.environ.items() if key not in STEERING}
        return subprocess.run(
            [CLUSTER, "--project-dir", str(self.root), *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            env={**clean, **(env or {})},
            timeout=timeout,
            check=False,
        )

    def cli_imports(self, command: str, watched: Sequence[str]) -> Completed:
        """`cluster COMMAND` in a fresh interpreter, its output then `LOADED [...]`: the `watched` modules it loaded."""
        probe = (
            "import sys\n"
            "from tasker_cluster.cli.app import main\n"
            "sys.argv = ['cluster', '--project-dir', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', [name for name in {tuple(watched)!r} if name in sys.modules])\n"
        )
        return subprocess.run(
            [sys.executable, "-c", probe, str(self.root), command], capture_output=True, text=True, check=False
        )


def wait_listening(port: int) -> None:
    """Until something accepts connections on `port`; pytest-timeout bounds the wait."""
    pause = 0.005
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
