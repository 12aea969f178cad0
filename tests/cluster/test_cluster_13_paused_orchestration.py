"""Scenario 13: an orchestration instance paused with SIGSTOP mid-burst, then resumed: the creations it holds time out
and the harness sends them again to the other instance; when the paused one wakes and serves them late, their
idempotency keys make it answer with the tasks already created. No task is duplicated."""

from __future__ import annotations

import dataclasses
import time

import pytest
from faults import wait_until
from pauses import paused
from records import ServerRecords
from workloads import linear

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 150
PAUSE_AFTER = 30
# Short, so that a creation held by the paused instance is sent again soon; far above an answer's time here.
REQUEST_TIMEOUT_S = 2.0


def test_an_orchestration_paused_mid_burst_costs_retries_but_never_a_duplicate_task(
    records: ServerRecords, faults: ClusterUnderTest, figures: ScenarioFigures
) -> None:
    victim = faults.instance_names("orchestration")[0]
    config = dataclasses.replace(faults.config, request_timeout=REQUEST_TIMEOUT_S)
    with BlockingManager.open(config) as manager:
        manager.wait_for_healthy(60)
        started = time.monotonic()
        burst = manager.submit(manager.manager.create_tasks_concurrent, linear(TASKS), 8)
        wait_until(lambda: len(manager.served) >= PAUSE_AFTER, timeout=30, what=f"{PAUSE_AFTER} tasks are created")
        with paused(faults, [victim]):
            paused_at = time.monotonic()
            wait_until(
                lambda: any(served.attempts > 1 for served in manager.served),
                timeout=30,
                what="a creation held by the paused instance is sent again",
            )
            paused_s = time.monotonic() - paused_at
        created = burst.result(timeout=120)
        uuids = [task.task_uuid for task in created]
        finished = manager.wait_for_tasks_completion(uuids, timeout=120)
        elapsed = time.monotonic() - started
        manager.wait_for_healthy(30)

    keys = [task.idempotency_key for task in created]
    assert len(set(uuids)) == TASKS
    assert set(records.tasks_per_key(keys).values()) == {1}, "a key maps to other than exactly one task"
    assert len(records.tasks(uuids)) == TASKS
    assert {task.status for task in finished} == {"complete"}
    retried = [task for task in created if task.attempts > 1]
    assert retried, "no creation was sent again: the scenario proved nothing"
    figures.throughput(
        TASKS,
        elapsed,
        paused=victim,
        paused_s=f"{paused_s:.2f}",
        retried=len(retried),
        created_by=dict(records.created_by(uuids)),
    )
