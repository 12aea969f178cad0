"""Scenario 14: the database terminates every connection of the services mid-burst (pg_terminate_backend, what a
failover or a connection-proxy restart does), three times: no request fails for it, and every task completes."""

from __future__ import annotations

import time

import psycopg
import pytest
from faults import wait_until
from records import ServerRecords
from workloads import linear, linear_result

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 300
TERMINATE_AT = (50, 120, 190)


def terminate_backends(database_url: str, instances: list[str]) -> int:
    """pg_terminate_backend of every session the instances hold (each names itself in application_name); returns
    once they have exited."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = ANY(%s)",
            (instances,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_connections_terminated_by_the_database_mid_burst_fail_no_request(
    manager: BlockingManager, records: ServerRecords, faults: ClusterUnderTest, figures: ScenarioFigures
) -> None:
    assert faults.database_url is not None
    instances = faults.instance_names()
    started = time.monotonic()
    burst = manager.submit(manager.manager.create_tasks_concurrent, linear(TASKS), 8)
    terminated = []
    for served in TERMINATE_AT:
        wait_until(lambda n=served: len(manager.served) >= n, timeout=60, what=f"{served} tasks are created")
        terminated.append(terminate_backends(faults.database_url, instances))
    created = burst.result(timeout=120)
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    elapsed = time.monotonic() - started

    retried = [(task.sent_to, task.attempts) for task in created if task.attempts > 1]
    assert retried == [], "a creation failed (503 or a dropped connection) and had to be sent again"
    assert all(count >= len(instances) for count in terminated), f"sessions terminated each time: {terminated}"
    assert set(records.tasks_per_key([task.idempotency_key for task in created]).values()) == {1}
    assert {task.status for task in finished} == {"complete"}
    assert [task for task in finished if task.step("square_4").result != linear_result(task)] == []
    completed_twice = [h.changes for h in records.step_histories(uuids) if h.completions() != 1]
    assert completed_twice == [], "no step completes twice"
    manager.wait_for_healthy(10)
    figures.throughput(TASKS, elapsed, sessions_terminated=terminated, failed_requests=len(retried))
