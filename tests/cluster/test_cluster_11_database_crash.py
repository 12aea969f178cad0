"""Scenario 11: PostgreSQL killed with `kill -9` mid-burst, then `cluster db up`: every task accepted before or after
completes exactly once, and no instance restarted."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
import pytest
from bursts import create_each
from database_faults import LocalDatabase
from faults import wait_until
from records import ServerRecords
from workloads import linear, linear_result

from tasker_cluster.proc.records import Liveness, liveness
from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 200
KILL_AFTER = 40
AFTER = 20


def unready_naming_the_database(urls: list[str]) -> bool:
    with httpx.Client(timeout=2.0) as client:
        for url in urls:
            answer = client.get(f"{url}/health/ready")
            if answer.status_code != 503 or "database" not in answer.json()["failed"]:
                return False
    return True


def refusals(urls: Sequence[str]) -> list[tuple[int, str, str | None]]:
    """What each instance answers a creation while the database is down: (status, error, Retry-After)."""
    answers = []
    with httpx.Client(timeout=10.0) as client:
        for url in urls:
            answer = client.post(f"{url}/v1/tasks", json=linear(1)[0].body())
            answers.append((answer.status_code, answer.json().get("error", ""), answer.headers.get("Retry-After")))
    return answers


def test_a_database_killed_mid_burst_and_brought_back_loses_no_accepted_task_and_restarts_no_instance(
    manager: BlockingManager, records: ServerRecords, faults: ClusterUnderTest, figures: ScenarioFigures
) -> None:
    database = LocalDatabase.of(faults)
    instances = faults.records()
    urls = [record.url for record in instances.values()]
    requests = linear(TASKS)
    started = time.monotonic()
    burst = manager.submit(create_each, manager.manager, requests, 8)
    wait_until(lambda: len(manager.served) >= KILL_AFTER, timeout=30, what=f"{KILL_AFTER} tasks are created")

    killed_at = time.monotonic()
    database.kill()
    try:
        wait_until(lambda: unready_naming_the_database(urls), timeout=30, what="every instance is unready")
        unready_after = time.monotonic() - killed_at
        refused_while_down = refusals(faults.config.orchestration_urls)
    finally:
        database.up()
    up_at = time.monotonic()
    manager.wait_for_healthy(60)
    ready_after = time.monotonic() - up_at
    accepted, refused = burst.result(timeout=120)
    after = manager.create_tasks_concurrent(linear(AFTER, start=TASKS))
    created = accepted + after
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=180)
    elapsed = time.monotonic() - started

    for status, error, retry_after in refused_while_down:
        assert (status, retry_after) == (503, "1") and error.startswith("database unavailable"), refused_while_down
    assert len(accepted) >= KILL_AFTER, "the burst's first tasks, created before the kill, were accepted"
    assert len(set(uuids)) == len(created)
    assert set(records.tasks_per_key([task.idempotency_key for task in created]).values()) == {1}
    assert {task.status for task in finished} == {"complete"}
    wrong = [task for task in finished if task.step("square_4").result != linear_result(task)]
    assert wrong == [], "every result is right"
    histories = records.step_histories(uuids)
    completed_twice = [h.changes for h in histories if h.completions() != 1]
    assert completed_twice == [], "every step completed exactly once"
    for name, record in instances.items():
        assert liveness(record) is Liveness.ALIVE, f"{name} (pid {record.pid}) exited or was restarted"
    figures.throughput(
        len(created),
        elapsed,
        refused=len(refused),
        retried=sum(task.attempts > 1 for task in created),
        unready_after_s=f"{unready_after:.2f}",
        ready_after_db_up_s=f"{ready_after:.2f}",
        steps_run_again=sum(len(h.claims()) > 1 for h in histories),
    )
