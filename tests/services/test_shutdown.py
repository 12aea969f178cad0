"""Stopping instances: SIGTERM finishes or hands back in-flight work and exits 0; SIGKILL loses nothing either."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from service_instances import ServiceProcess, spawn_service, wait_for_tasks

pytestmark = pytest.mark.services


@pytest.fixture
def started(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Start instances on demand; whatever still runs at the end is stopped with SIGTERM."""
    instances: list[ServiceProcess] = []

    def start(role: str, name: str, *args: str) -> ServiceProcess:
        instance = spawn_service(role, name, database_url, tmp_path, args)
        instances.append(instance)
        instance.wait_ready()
        return instance

    yield start
    for instance in instances:
        if instance.stopped_with is None:
            instance.terminate()


def create_slow_tasks(client: httpx.Client, count: int, ms: int) -> list[str]:
    body = {"namespace": "examples", "name": "slow", "context": {"ms": ms}}
    return [client.post("/v1/tasks", json=body).json()["task_uuid"] for _ in range(count)]


def wait_until_running(client: httpx.Client, uuids: list[str], count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        running = sum(client.get(f"/v1/tasks/{u}").json()["steps"][0]["status"] == "in_progress" for u in uuids)
        if running >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"fewer than {count} steps started within 20 s")


def claims(database_url: str, uuids: list[str]) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT attempt, instance FROM tasker.step_transitions"
            " WHERE task_uuid = ANY(%s::uuid[]) AND to_state = 'in_progress' ORDER BY attempt, instance",
            (uuids,),
        ).fetchall()


def test_sigterm_lets_running_steps_finish_stops_reading_and_exits_0(started: Any, database_url: str) -> None:
    orchestration = started("orchestration", "orchestration-1")
    first = started("worker", "worker-1", "--concurrency", "2")
    with httpx.Client(base_url=orchestration.url, timeout=10) as client:
        uuids = create_slow_tasks(client, 6, ms=1500)
        wait_until_running(client, uuids, 2)
        told_to_stop = database_time(database_url)
        assert first.terminate() == 0
        started("worker", "worker-2")
        done = wait_for_tasks(client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    attempts = [task["steps"][0]["attempts"] for task in done.values()]
    assert attempts == [1] * 6, "a step running at SIGTERM finished there and was never run again"
    with psycopg.connect(database_url) as conn:
        late = conn.execute(
            "SELECT count(*) FROM tasker.step_transitions WHERE instance = 'worker-1' AND created_at > %s",
            (told_to_stop,),
        ).fetchone()
        finished_by_first = conn.execute(
            "SELECT count(*) FROM tasker.step_transitions WHERE instance = 'worker-1' AND to_state = 'complete'"
        ).fetchone()
    assert late == (2,), "after SIGTERM, worker-1 only recorded the two steps it was running"
    assert finished_by_first == (2,)


def database_time(database_url: str) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def test_sigterm_past_the_grace_period_hands_running_steps_to_another_worker_at_once(
    started: Any, database_url: str
) -> None:
    orchestration = started("orchestration", "orchestration-1")
    # A visibility timeout far longer than the test: only the release on SIGTERM can make the steps reappear.
    first = started("worker", "worker-1", "--concurrency", "2", "--stop-grace", "1", "--visibility-timeout", "600")
    with httpx.Client(base_url=orchestration.url, timeout=10) as client:
        uuids = create_slow_tasks(client, 2, ms=2000)
        wait_until_running(client, uuids, 2)
        assert first.terminate() == 0
        started("worker", "worker-2")
        done = wait_for_tasks(client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    assert claims(database_url, uuids) == [(1, "worker-1"), (1, "worker-1"), (2, "worker-2"), (2, "worker-2")]


def test_sigterm_during_a_long_step_releases_it_at_once_and_says_so(started: Any, database_url: str) -> None:
    orchestration = started("orchestration", "orchestration-1")
    # Free slots (the default concurrency): the consumer loop ends at once on SIGTERM, and only the step runs on.
    # A visibility timeout far longer than the test: only the release can make the step reappear.
    first = started("worker", "worker-1", "--stop-grace", "1", "--visibility-timeout", "600")
    with httpx.Client(base_url=orchestration.url, timeout=10) as client:
        uuids = create_slow_tasks(client, 1, ms=3000)
        wait_until_running(client, uuids, 1)
        assert first.terminate() == 0
        started("worker", "worker-2")
        done = wait_for_tasks(client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    assert claims(database_url, uuids) == [(1, "worker-1"), (2, "worker-2")]
    assert "released 1 unfinished step" in first.log()


def test_a_worker_killed_mid_step_loses_nothing_another_takes_the_attempt_over(started: Any, database_url: str) -> None:
    orchestration = started("orchestration", "orchestration-1")
    doomed = started("worker", "worker-1", "--concurrency", "2", "--visibility-timeout", "1")
    with httpx.Client(base_url=orchestration.url, timeout=10) as client:
        uuids = create_slow_tasks(client, 2, ms=1000)
        wait_until_running(client, uuids, 2)
        doomed.kill()
        started("worker", "worker-2")
        done = wait_for_tasks(client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    assert {task["steps"][0]["processed_by"] for task in done.values()} == {"worker-2"}
    assert claims(database_url, uuids) == [(1, "worker-1"), (1, "worker-1"), (2, "worker-2"), (2, "worker-2")]


def test_an_orchestration_killed_mid_burst_loses_nothing_the_other_finishes(started: Any) -> None:
    doomed = started("orchestration", "orchestration-1", "--visibility-timeout", "1")
    survivor = started("orchestration", "orchestration-2", "--visibility-timeout", "1")
    started("worker", "worker-1")
    body = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}}
    with httpx.Client(timeout=10) as client:
        uuids = [client.post(f"{doomed.url}/v1/tasks", json=body).json()["task_uuid"] for _ in range(20)]
        doomed.kill()
        survivor_client = httpx.Client(base_url=survivor.url, timeout=10)
        with survivor_client:
            done = wait_for_tasks(survivor_client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    assert {task["steps"][-1]["result"] for task in done.values()} == {65536}


def test_a_step_outliving_its_visibility_timeout_is_not_taken_over_while_its_worker_lives(
    started: Any, database_url: str
) -> None:
    orchestration = started("orchestration", "orchestration-1")
    started("worker", "worker-1", "--visibility-timeout", "1")
    started("worker", "worker-2", "--visibility-timeout", "1")
    with httpx.Client(base_url=orchestration.url, timeout=10) as client:
        uuids = create_slow_tasks(client, 2, ms=2500)
        done = wait_for_tasks(client, uuids)
    assert {task["status"] for task in done.values()} == {"complete"}
    assert [attempt for attempt, _ in claims(database_url, uuids)] == [1, 1], "the heartbeat kept each step its own"
