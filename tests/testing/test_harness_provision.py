"""A throwaway cluster through the real lifecycle core, with scripted servers as its instances: free ports, kill -9
of an instance mid-run, restart, shutdown leaving nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from scripted_orchestration import scripted_topology

from tasker_cluster.project import Project
from tasker_cluster.testing import BlockingManager, MultiInstanceTestManager, RetryPolicy, TaskRequest
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
    ports = {record.port for record in throwaway.records().values()}
    assert len(ports) == 3
    assert not ports & USER_PORTS
    assert throwaway.instance_names("orchestration") == ["orchestration-1", "orchestration-2"]
    assert throwaway.config.worker_urls == (throwaway.url_of("worker-a-1"),)


def test_shutdown_stops_every_instance_and_removes_the_folder(source_project: Project) -> None:
    cluster = start_throwaway_cluster(source_project, timeout=30)
    pids = [record.pid for record in cluster.records().values()]
    assert cluster.project is not None
    root = cluster.project.root
    cluster.shutdown()
    assert not root.exists()
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_a_killed_orchestration_instance_is_passed_over_then_rejoins_after_restart(
    throwaway: ClusterUnderTest,
) -> None:
    retry = RetryPolicy(max_attempts=4, first_delay=0.01, max_delay=0.05)
    with BlockingManager.open(throwaway.config, retry=retry) as manager:
        manager.wait_for_healthy(20)
        manager.create_tasks_concurrent(_requests(4))
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 2}

        killed = throwaway.kill("orchestration-1")
        assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == "zombie"
        manager.create_tasks_concurrent(_requests(6))
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 8}

        throwaway.start(["orchestration-1"], timeout=20)
        manager.wait_for_healthy(20)
        manager.create_tasks_concurrent(_requests(4))
        assert manager.served_by_instance() == {"orchestration-1": 4, "orchestration-2": 10}
    assert throwaway.records()["orchestration-1"].pid != killed


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
