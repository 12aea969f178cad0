"""The reference cluster under load: this repo's orchestration and worker services, as the default topology runs
them, in a throwaway project on free ports with its own local PostgreSQL (started by `cluster db up`).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import tomli_w

from benchlib.fleet import clean_env
from benchlib.paths import CLUSTER, REPO
from tasker_cluster.config.sources import DEFAULT_TOPOLOGY
from tasker_cluster.proc.ports import find_free_port_block

RANGE = 10
EMPTY_SQL = """
TRUNCATE tasker.tasks, tasker.steps, tasker.task_transitions, tasker.step_transitions;
SELECT pgmq.purge_queue(queue_name) FROM pgmq.meta;
"""


class ReferenceCluster:
    """The default topology's services with their own base ports, and a [database] on a free port."""

    def __init__(self, folder: Path) -> None:
        self.root = folder
        # The server runs as `postgres` when we are root: let it reach the data folder inside the project, so it
        # goes away with the project instead of falling back to a folder in /tmp.
        folder.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.gettempdir())
        if folder.is_relative_to(temp):
            for path in (folder, *folder.parents):
                if path == temp:
                    break
                os.chmod(path, 0o755)
        shutil.copytree(REPO / "config" / "templates", folder / "config" / "templates")
        with DEFAULT_TOPOLOGY.open("rb") as file:
            self.document: dict[str, Any] = tomllib.load(file)
        base = find_free_port_block(4 * RANGE + 1)
        self.database_port = base + 4 * RANGE
        self.document["database"] = {**self.document.get("database", {}), "mode": "local", "port": self.database_port}
        for offset, table in enumerate(self.document["services"].values()):
            table["base_port"] = base + offset * RANGE
        self.write(*self.default_counts())

    def default_counts(self) -> tuple[int, int]:
        services = self.document["services"].values()
        orchestration = sum(table["count"] for table in services if table["role"] == "orchestration")
        workers = sum(table["count"] for table in services if table["role"] == "worker")
        return orchestration, workers

    def write(self, orchestration: int, workers: int) -> None:
        """Counts per role, workers split evenly over the worker types as `--workers` would."""
        tables = self.document["services"]
        worker_types = [name for name, table in tables.items() if table["role"] == "worker"]
        orchestration_types = [name for name, table in tables.items() if table["role"] == "orchestration"]
        for names, total in ((orchestration_types, orchestration), (worker_types, workers)):
            share = math.ceil(total / len(names))
            for name in names:
                tables[name]["count"] = min(share, total)
                total -= tables[name]["count"]
        path = self.root / "config" / "cluster.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tomli_w.dumps(self.document))

    def cli(self, *args: str, timeout: float = 300) -> str:
        completed = subprocess.run(
            [CLUSTER, "--project-dir", str(self.root), *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"cluster {' '.join(args)} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
        return completed.stdout

    def database_up(self) -> str:
        self.cli("db", "up")
        return self.cli("db", "url").strip()

    def empty_database(self, database_url: str) -> None:
        """Every task, step, transition and queued message gone, with the instances stopped: each run starts on the
        database the first one had, so no configuration is measured on a fuller one than another."""
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(EMPTY_SQL)
            connection.execute("VACUUM ANALYZE")

    def start(self, orchestration: int, workers: int) -> None:
        self.write(orchestration, workers)
        self.cli("start-all", "--timeout", "60")

    def stop(self) -> None:
        self.cli("stop")

    def shut_down(self) -> None:
        """Everything this project runs: instances, then its PostgreSQL."""
        for args in (("stop",), ("db", "down")):
            try:
                self.cli(*args)
            except (RuntimeError, subprocess.SubprocessError):
                continue

    def orchestration_urls(self) -> list[str]:
        return self._urls("orchestration")

    def instance_urls(self) -> dict[str, str]:
        """Instance name -> base url, as `cluster setup-env` would list them."""
        urls = {}
        for service, table in self.document["services"].items():
            for index in range(1, table["count"] + 1):
                urls[f"{service}-{index}"] = f"http://127.0.0.1:{table['base_port'] + index - 1}"
        return urls

    def _urls(self, role: str) -> list[str]:
        tables = self.document["services"]
        return [url for name, url in self.instance_urls().items() if tables[name.rsplit("-", 1)[0]]["role"] == role]
