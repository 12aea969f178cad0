"""A throwaway cluster started with the `cluster` command, with scripted servers as its instances: free ports, its
own folder, a clean environment, and shutdown leaving nothing behind."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from scripted_orchestration import scripted_topology

from support.sandbox import running
from tasker_cluster.proc.records import read_records
from tasker_cluster.project import Project
from tasker_cluster.testing import HarnessError, MultiInstanceTestManager, TaskRequest
from tasker_cluster.testing.provision import ClusterUnderTest, start_throwaway_cluster

USER_PORTS = {*range(8080, 8090), *range(8100, 8110), 5432, 5433}


@pytest.fixture
def source_project(tmp_path: Path) -> Project:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "cluster.toml").write_text(scripted_topology())
    return Project(tmp_path)


@pytest.fixture
def throwaway(source_project: Project) -> Iterator[ClusterUnderTest]:
    cluster = start_throwaway_cluster(source_project, timeout=30)
    yield cluster
    cluster.shutdown()


def _requests(count: int) -> list[TaskRequest]:
    return [TaskRequest(namespace="examples", name="linear", context={"n": n}) for n in range(count)]


def test_a_throwaway_cluster_runs_on_free_ports_in_its_own_folder(
    source_project: Project, throwaway: ClusterUnderTest
) -> None:
    assert throwaway.started_here
    assert throwaway.project is not None and throwaway.project.root != source_project.root
    records = read_records(throwaway.project).valid
    ports = {record.port for record in records.values()}
    assert len(ports) == 3
    assert not ports & USER_PORTS
    assert throwaway.faults is not None
    assert throwaway.faults.instances("orchestration") == ["orchestration-1", "orchestration-2"]
    assert throwaway.config.worker_urls == (records["worker-a-1"].url,)
    assert not (source_project.root / ".pids").exists(), "the source project's folder was written to"


def test_a_throwaway_cluster_ignores_the_callers_database_counts_and_instance_settings(
    source_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere",
        "TASKER_ORCHESTRATION_INSTANCES": "3",
        "TASKER_WORKER_INSTANCES": "4",
        "TASKER_POOL_MAX": "1",
        "TASKER_WORKER_CONCURRENCY": "0",
        "PGHOST": "nowhere.invalid",
    }
    for key, value in hostile.items():
        monkeypatch.setenv(key, value)
    cluster = start_throwaway_cluster(source_project, timeout=30)
    try:
        assert cluster.project is not None
        records = read_records(cluster.project).valid
        # The scripted topology's own counts: 2 orchestration, 1 worker.
        assert sorted(records) == ["orchestration-1", "orchestration-2", "worker-a-1"]
        for record in records.values():
            inherited = set(psutil.Process(record.pid).environ()) & set(hostile)
            assert not inherited, f"{record.name} inherited {sorted(inherited)}"
    finally:
        cluster.shutdown()


def test_shutdown_stops_every_instance_and_removes_the_folder(source_project: Project) -> None:
    cluster = start_throwaway_cluster(source_project, timeout=30)
    assert cluster.project is not None
    root = cluster.project.root
    pids = [record.pid for record in read_records(cluster.project).valid.values()]
    cluster.shutdown()
    assert not root.exists()
    assert not [pid for pid in pids if running(pid)]


def test_a_failed_start_names_the_instance_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    # The orchestration service's command (the first of the two) gets a flag the instance refuses: it exits at once.
    broken = scripted_topology().replace('"{name}"]', '"{name}", "--no-such-flag"]', 1)
    (tmp_path / "config" / "cluster.toml").write_text(broken)
    roots: list[Path] = []
    mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: roots.append(Path(mkdtemp(**kw))) or str(roots[-1]))
    with pytest.raises(HarnessError) as raised:
        start_throwaway_cluster(Project(tmp_path), timeout=10)
    assert "`cluster start-all --timeout 10` exited 1" in raised.value.message
    assert "orchestration-1" in raised.value.message
    [root] = roots
    assert not root.exists()
    assert not [p for p in psutil.process_iter(["cwd"]) if (p.info["cwd"] or "").startswith(str(root))]


@pytest.mark.anyio
async def test_setup_starts_a_cluster_of_the_asked_size_and_aclose_removes_it(source_project: Project) -> None:
    manager = await MultiInstanceTestManager.setup(3, 2, project=source_project, timeout=30)
    async with manager:
        assert (manager.orchestration_count(), manager.worker_count()) == (3, 2)
        created = await manager.create_tasks_concurrent(_requests(6))
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 2, "orchestration-3": 2}
        urls = {task.sent_to for task in created}
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health")
