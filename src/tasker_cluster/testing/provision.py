"""The cluster a test session runs against: one named by the environment, or a throwaway one started here.

A throwaway cluster is the project's own topology copied into a temporary project folder, every service moved to
free loopback ports (never the user's 8080-8109, 5433), with its own database, started and stopped through the
lifecycle core exactly as `cluster start-all` / `cluster stop --with-db` would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.proc.records import InstanceRecord, Liveness, liveness, read_record, read_records
from tasker_cluster.project import Project
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.errors import HarnessError

_KILL_WAIT = 10.0


@dataclass
class ClusterUnderTest:
    """A running cluster and, when known, the project folder whose PID records describe its instances."""

    config: ClusterConfig
    project: Project | None
    database_url: str | None
    started_here: bool
    _remove_on_stop: list[Path] = field(default_factory=list, repr=False)

    @property
    def can_inject_faults(self) -> bool:
        """Faults need the PID records (to kill the right process) and the topology (to start it again)."""
        return self.project is not None and self.project.config_file.is_file() and bool(self.records())

    def records(self) -> dict[str, InstanceRecord]:
        return read_records(self.project).valid if self.project else {}

    def instance_names(self, role: str | None = None) -> list[str]:
        return sorted(name for name, record in self.records().items() if role is None or record.role == role)

    def url_of(self, name: str) -> str:
        return self._record(name).url

    def kill(self, name: str) -> int:
        """`kill -9` the instance's whole process group, as a crash would; returns the PID. Its PID file stays, as
        after a real crash; `start` then replaces it."""
        record = self._record(name)
        if liveness(record) is not Liveness.ALIVE:
            raise HarnessError(f"{name} is not running (pid {record.pid})", f"start it first: `cluster start {name}`")
        os.killpg(record.pid, signal.SIGKILL)
        # Wait on liveness, not on the PID: a killed process that is not our child stays a zombie until PID 1
        # reaps it, and liveness already counts a zombie as dead.
        deadline = time.monotonic() + _KILL_WAIT
        pause = 0.005
        while liveness(record) is Liveness.ALIVE:
            if time.monotonic() > deadline:
                raise HarnessError(f"{name} (pid {record.pid}) survived SIGKILL", "check `ps` for a D-state process")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return record.pid

    def start(self, names: Sequence[str], timeout: float = 60.0) -> None:
        """`cluster start NAME...` through the lifecycle core; returns once every named instance is ready."""
        from tasker_cluster.cluster.start import start_instances
        from tasker_cluster.config.load import load_config

        config = load_config(self._require_project())
        report = start_instances(config, config.select(list(names)), wait=True, timeout=timeout)
        if not report.ok:
            fix = f"read the instance logs under {config.project.logs_dir}"
            raise HarnessError(_describe_failed_start(report), fix)

    def stop(self, names: Sequence[str], timeout: float | None = None) -> None:
        """`cluster stop NAME...`: SIGTERM, a grace period, then SIGKILL."""
        from tasker_cluster.cluster.stop import stop_instances
        from tasker_cluster.config.load import load_config

        project = self._require_project()
        stop_instances(project, load_config(project), list(names), timeout=timeout)

    def shutdown(self) -> None:
        """Stop every instance and the database of a cluster started here, and remove its folder."""
        if not self.started_here or self.project is None:
            return
        from tasker_cluster.cluster.stop import stop_instances
        from tasker_cluster.config.load import load_database_config
        from tasker_cluster.db.control import stop_database

        try:
            stop_instances(self.project, None)
        finally:
            if self.database_url is not None:
                stop_database(self.project, load_database_config(self.project))
            for path in self._remove_on_stop:
                shutil.rmtree(path, ignore_errors=True)

    def _record(self, name: str) -> InstanceRecord:
        record = read_record(self._require_project(), name)
        if record is None:
            raise HarnessError(f"no PID record for {name}", f"known instances: {', '.join(self.instance_names())}")
        return record

    def _require_project(self) -> Project:
        if self.project is None:
            raise HarnessError(
                "this cluster was named by URLs only: no PID records to act on",
                "run the tests from the project folder that started the cluster, or let the tests start their own",
            )
        return self.project


def start_throwaway_cluster(
    source: Project | None = None,
    *,
    orchestration: int | None = None,
    workers: int | None = None,
    timeout: float = 60.0,
) -> ClusterUnderTest:
    """Copy `source`'s topology into a temporary project on free ports and start it, database included."""
    from tasker_cluster.cluster.start import ensure_database_url, start_instances
    from tasker_cluster.config.load import load_config

    source = source or Project.discover()
    # Under /tmp and world-traversable: as root the database runs as `postgres`, which must reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="tasker-test-cluster-"))
    os.chmod(root, 0o755)
    project = Project(root)
    try:
        _copy_config(source, project)
        counts = load_config(project, orchestration=orchestration, workers=workers)
        _move_to_free_ports(project, {service.name: service.count for service in counts.services})
        config = load_config(project, orchestration=orchestration, workers=workers)
        url = ensure_database_url(config) if config.database.mode == "local" else None
        cluster = ClusterUnderTest(
            config=ClusterConfig(
                orchestration_urls=tuple(config.orchestration_urls()),
                worker_urls=tuple(config.worker_urls()),
            ),
            project=project,
            database_url=url,
            started_here=True,
            _remove_on_stop=[root],
        )
        report = start_instances(config, config.instances, wait=True, timeout=timeout)
    except BaseException:
        _abandon(project, root)
        raise
    if not report.ok:
        cluster.shutdown()
        raise HarnessError(_describe_failed_start(report), "fix the failing service; its log lines are shown above")
    return cluster


def _copy_config(source: Project, target: Project) -> None:
    config_dir = source.config_file.parent
    if not source.config_file.is_file():
        raise ClusterError(
            f"no topology at {source.config_file} to start a test cluster from",
            "run the tests from a project folder (one with config/cluster.toml), or name a running cluster "
            "with TASKER_TEST_ORCHESTRATION_URLS",
        )
    shutil.copytree(config_dir, target.config_file.parent, ignore=shutil.ignore_patterns("generated"))


def _move_to_free_ports(project: Project, counts: dict[str, int]) -> None:
    """Give every service a base port, and the database a port, inside one free block."""
    from tasker_cluster.config.sources import read_sources

    data = read_sources(project).document
    base = find_free_port_block(sum(counts.values()) + 1)
    database = data.setdefault("database", {})
    database["port"] = base
    cursor = base + 1
    for name, table in data.get("services", {}).items():
        table["base_port"] = cursor
        cursor += counts.get(name, 0)
    project.config_file.write_text(tomli_w.dumps(data))


def _abandon(project: Project, root: Path) -> None:
    """Undo a start that failed half-way, without hiding the original error."""
    from tasker_cluster.cluster.stop import stop_instances
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.control import stop_database

    for undo in (lambda: stop_instances(project, None), lambda: stop_database(project, load_database_config(project))):
        # The start's own error is the one worth seeing; a failing undo must not replace it.
        with contextlib.suppress(Exception):
            undo()
    shutil.rmtree(root, ignore_errors=True)


def _describe_failed_start(report: object) -> str:
    lines = ["the test cluster did not start:"]
    for instance in getattr(report, "failed", []):
        lines.append(f"  {instance.name}: {instance.outcome} {instance.detail}".rstrip())
        lines += [f"    | {line}" for line in instance.log_tail]
    return "\n".join(lines)
