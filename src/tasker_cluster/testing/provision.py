"""The cluster a test session runs against (`ClusterUnderTest`), and starting a throwaway one.

A throwaway cluster is the project's topology copied into a temporary project folder, every service moved to free
loopback ports (never the user's 8080-8109, 5433), with its own database. It is started and stopped with the
`cluster` command from a clean environment (testing/environment.py): nothing the caller exported (DATABASE_URL,
TASKER_* counts and instance settings, PG* variables) reaches it, and its own `.env` is the only one it reads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import CONFIG_RELATIVE, Project
from tasker_cluster.testing.commands import configured_instances, run_cluster
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.environment import clean_environment
from tasker_cluster.testing.faults import FaultDriver
from tasker_cluster.testing.local_faults import LocalFaults

# `cluster stop --with-db` waits out each instance's grace period at worst.
_STOP_TIMEOUT = 120.0
# The start's own readiness timeout plus the database's initdb and start.
_START_MARGIN = 60.0


@dataclass
class ClusterUnderTest:
    """A running cluster: its URLs, its database when known, and the fault driver that can act on it, if any."""

    config: ClusterConfig
    database_url: str | None
    started_here: bool
    faults: FaultDriver | None
    # The folder of a throwaway cluster, or the user's project whose PID records describe the named cluster.
    project: Project | None = None
    # How to take down a cluster started here that --keep-cluster kept, when not `cluster stop` in `project`.
    kept_note: str | None = None
    _shutdown: Callable[[], None] | None = field(default=None, repr=False)

    def shutdown(self) -> None:
        """Stop and remove a cluster started here (instances, database, folder); a named cluster is left alone."""
        if self._shutdown is not None:
            self._shutdown()


def source_project(rootdir: Path) -> Project:
    """The nearest folder at or above `rootdir` with a topology; TASKER_PROJECT_DIR is not consulted: the tests
    belong to the checkout they run from."""
    start = rootdir.resolve()
    return Project(next((folder for folder in (start, *start.parents) if (folder / CONFIG_RELATIVE).is_file()), start))


def start_throwaway_cluster(
    source: Project,
    *,
    orchestration: int | None = None,
    workers: int | None = None,
    timeout: float = 60.0,
) -> ClusterUnderTest:
    """Copy `source`'s topology into a temporary project on free ports and start it, database included, from a
    clean environment; counts as given, else the topology file's. Raises HarnessError naming the failing
    instances (and leaves nothing running) when the start fails."""
    # Under /tmp and world-traversable: as root the database runs as `postgres`, which must reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="tasker-test-cluster-"))
    os.chmod(root, 0o755)
    project = Project(root)
    environ = clean_environment()

    def shutdown() -> None:
        try:
            run_cluster(project, ["stop", "--with-db"], env=environ, timeout=_STOP_TIMEOUT)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    try:
        copy_config(source, project)
        fix_counts_and_ports(project, orchestration, workers)
        run_cluster(
            project,
            ["start-all", "--timeout", f"{timeout:g}"],
            env=environ,
            timeout=timeout + _START_MARGIN,
            # The folder is removed with the failed cluster: the output quoted above is what remains.
            fix="the failing instances' last log lines are quoted above; fix the service or the topology",
        )
        return ClusterUnderTest(
            config=_config_of(project, environ),
            database_url=_local_database_url(project),
            started_here=True,
            faults=LocalFaults(project, environ),
            project=project,
            _shutdown=shutdown,
        )
    except BaseException:
        # The start's own error is the one worth seeing; a failing clean-up must not replace it.
        with contextlib.suppress(Exception):
            shutdown()
        raise


def copy_config(source: Project, target: Project) -> None:
    config_dir = source.config_file.parent
    if not source.config_file.is_file():
        raise ClusterError(
            f"no topology at {source.config_file} to start a test cluster from",
            "run the tests from a project folder (one with config/cluster.toml), or name a running cluster "
            "with TASKER_TEST_ORCHESTRATION_URLS and --cluster-source env",
        )
    shutil.copytree(config_dir, target.config_file.parent, ignore=shutil.ignore_patterns("generated"))


def fix_counts_and_ports(project: Project, orchestration: int | None, workers: int | None) -> None:
    """Write every service's count and a base port into the copied topology, so that the file alone decides the
    cluster's shape (no environment or .env count applies) and every port is free; the database gets one too."""
    from tasker_cluster.config.load import load_config
    from tasker_cluster.config.model import ROLES
    from tasker_cluster.config.schema import check_file
    from tasker_cluster.config.sources import read_sources

    data = read_sources(project).document
    checked = check_file(project.config_file, data)
    totals = {role: sum(table.count for table in checked.services.values() if table.role == role) for role in ROLES}
    # Explicit counts, so that placement never falls back to this process's environment.
    config = load_config(
        project,
        orchestration=totals["orchestration"] if orchestration is None else orchestration,
        workers=totals["worker"] if workers is None else workers,
    )
    counts = {service.name: service.count for service in config.services}
    base = find_free_port_block(sum(counts.values()) + 1)
    data.setdefault("database", {})["port"] = base
    cursor = base + 1
    for name, table in data.get("services", {}).items():
        table["count"] = counts.get(name, 0)
        table["base_port"] = cursor
        cursor += counts.get(name, 0)
    project.config_file.write_text(tomli_w.dumps(data))


def _config_of(project: Project, environ: dict[str, str]) -> ClusterConfig:
    instances = configured_instances(project, env=environ)
    return ClusterConfig(
        orchestration_urls=tuple(instance.url for instance in instances if instance.role == "orchestration"),
        worker_urls=tuple(instance.url for instance in instances if instance.role == "worker"),
    )


def _local_database_url(project: Project) -> str | None:
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.urls import local_url

    database = load_database_config(project)
    return None if database.mode == "none" else local_url(project, database.port, database.name)
