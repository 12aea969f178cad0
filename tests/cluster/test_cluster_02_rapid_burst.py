"""Scenario 2: a rapid burst of creations, none duplicated, none lost."""

from __future__ import annotations

import time

import pytest
from records import ServerRecords
from workloads import slow

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 500
IN_FLIGHT = 32


def test_a_burst_of_500_creations_has_no_duplicate_and_loses_nothing(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    started = time.monotonic()
    created = manager.create_tasks_concurrent(slow(TASKS, ms=0), concurrency=IN_FLIGHT)
    creation_s = time.monotonic() - started
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=180)
    total_s = time.monotonic() - started

    assert len(set(uuids)) == TASKS
    per_key = records.tasks_per_key([task.idempotency_key for task in created])
    assert set(per_key.values()) == {1}, "an idempotency key maps to other than exactly one task"
    assert len(records.tasks(uuids)) == TASKS
    assert {task.status for task in finished} == {"complete"}
    figures.report(
        tasks=TASKS,
        creation_s=f"{creation_s:.2f}",
        creations_per_s=f"{TASKS / creation_s:.0f}",
        duration_s=f"{total_s:.2f}",
        tasks_per_s=f"{TASKS / total_s:.1f}",
        retried=sum(task.attempts > 1 for task in created),
    )
