"""LocalFaults on a real throwaway cluster (scripted servers as instances; a real PostgreSQL for database faults):
each fault is in effect when the call returns, and only processes the cluster's PID records name are signalled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from scripted_orchestration import scripted_topology

from support.sandbox import running
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.proc.records import read_record
from tasker_cluster.project import Project
from tasker_cluster.testing import BlockingManager, HarnessError, LocalFaults, RetryPolicy, TaskRequest
from tasker_cluster.testing.commands import run_cluster
from tasker_cluster.testing.environment import clean_environment
from tasker_cluster.testing.provision import ClusterUnderTest, start_throwaway_cluster


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[ClusterUnderTest]:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "cluster.toml").write_text(scripted_topology())
    cluster = start_throwaway_cluster(Project(tmp_path), timeout=30)
    yield cluster
    cluster.shutdown()


def _driver(cluster: ClusterUnderTest) -> LocalFaults:
    assert isinstance(cluster.faults, LocalFaults)
    return cluster.faults


def _pid(driver: LocalFaults, name: str) -> int:
    record = read_record(driver.project, name)
    assert record is not None
    return record.pid


def _requests(count: int) -> list[TaskRequest]:
    return [TaskRequest(namespace="examples", name="linear", context={"n": n}) for n in range(count)]


def test_a_killed_orchestration_instance_is_passed_over_then_rejoins_after_start(throwaway: ClusterUnderTest) -> None:
    driver = _driver(throwaway)
    retry = RetryPolicy(max_attempts=4, first_delay=0.01, max_delay=0.05)
    with BlockingManager.open(throwaway.config, retry=retry) as manager:
        manager.wait_for_healthy(20)
        manager.create_tasks_concurrent(_requests(4))
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 2}

        killed = _pid(driver, "orchestration-1")
        driver.kill("orchestration-1")
        assert not running(killed)
        manager.create_tasks_concurrent(_requests(6))
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 8}
        assert manager.retries.count("create") >= 1, "the request sent to the dead instance was not logged"
        assert "ConnectError" in manager.retries.describe()

        driver.start("orchestration-1")
        manager.wait_for_healthy(20)
        manager.create_tasks_concurrent(_requests(4))
        assert manager.served_by_instance() == {"orchestration-1": 4, "orchestration-2": 10}
    assert _pid(driver, "orchestration-1") != killed


def test_a_paused_instance_answers_nothing_until_it_is_resumed(throwaway: ClusterUnderTest) -> None:
    driver = _driver(throwaway)
    url = throwaway.config.orchestration_urls[0]
    driver.pause("orchestration-1")
    assert psutil.Process(_pid(driver, "orchestration-1")).status() == psutil.STATUS_STOPPED
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{url}/health", timeout=0.3)
    driver.resume("orchestration-1")
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200


def test_restart_stops_gracefully_and_starts_a_new_process(throwaway: ClusterUnderTest) -> None:
    driver = _driver(throwaway)
    before = _pid(driver, "worker-a-1")
    driver.restart("worker-a-1")
    assert _pid(driver, "worker-a-1") != before
    assert httpx.get(f"{throwaway.config.worker_urls[0]}/health", timeout=5).status_code == 200


def test_a_rolling_restart_replaces_every_instance_and_an_unknown_name_is_refused(
    throwaway: ClusterUnderTest,
) -> None:
    driver = _driver(throwaway)
    before = {name: _pid(driver, name) for name in driver.instances()}
    driver.rolling_restart()
    assert all(_pid(driver, name) != pid for name, pid in before.items())
    with pytest.raises(HarnessError) as unknown:
        driver.rolling_restart(["worker-a-9"])
    assert "no instance 'worker-a-9'" in unknown.value.message


def test_faults_on_an_unknown_or_dead_instance_name_the_problem(throwaway: ClusterUnderTest) -> None:
    driver = _driver(throwaway)
    with pytest.raises(HarnessError) as unknown:
        driver.kill("orchestration-9")
    assert "no instance 'orchestration-9'" in unknown.value.message
    assert "orchestration-1, orchestration-2, worker-a-1" in unknown.value.fix
    driver.stop("orchestration-2")
    with pytest.raises(HarnessError) as gone:
        driver.pause("orchestration-2")
    assert "orchestration-2 is not running" in gone.value.message
    with pytest.raises(HarnessError) as no_database:
        driver.kill_database()
    assert "no PostgreSQL server" in no_database.value.message


@pytest.mark.db
def test_the_database_is_killed_and_brought_back(tmp_path: Path) -> None:
    from tasker_cluster.db.location import existing_data_dir
    from tasker_cluster.db.postmaster import running_postmaster

    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    port = find_free_port_block(1)
    (root / "config" / "cluster.toml").write_text(
        scripted_topology().replace('mode = "none"', f'mode = "local"\nport = {port}')
    )
    project = Project(root)
    environ = clean_environment()
    driver = LocalFaults(project, environ)
    try:
        run_cluster(project, ["db", "up"], env=environ, timeout=120)
        data_dir = existing_data_dir(project)
        assert data_dir is not None
        first = running_postmaster(data_dir)
        assert first is not None
        driver.kill_database()
        assert running_postmaster(data_dir) is None
        driver.start_database()
        second = running_postmaster(data_dir)
        assert second is not None and second.pid != first.pid
    finally:
        run_cluster(project, ["db", "down"], env=environ, timeout=120)
