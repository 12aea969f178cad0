"""Scenario 6: every step ran exactly once per attempt, read from the transitions table."""

from __future__ import annotations

import time

import pytest
from records import ServerRecords
from workloads import diamond, diamond_result

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 30
STEPS_PER_TASK = 4
CLEAN_STEP = ["pending", "enqueued", "in_progress", "complete"]
CLEAN_TASK = ["pending", "steps_in_process", "complete"]


def test_every_step_is_claimed_once_and_passes_through_every_state_once(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    requests = diamond(TASKS)
    started = time.monotonic()
    created = manager.create_tasks_concurrent(requests)
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    elapsed = time.monotonic() - started

    for request, task in zip(requests, finished, strict=True):
        assert task.status == "complete"
        assert task.step("end").result == diamond_result(request)
    histories = records.step_histories(uuids)
    assert len(histories) == TASKS * STEPS_PER_TASK
    workers = set()
    for history in histories:
        assert history.states() == CLEAN_STEP, f"{history.task_uuid}/{history.step_name}: {history.changes}"
        [(attempt, claimer)] = history.claims()
        assert attempt == 1
        workers.add(claimer)
    assert all(history == CLEAN_TASK for history in records.task_histories(uuids).values())
    figures.throughput(TASKS, elapsed, steps=len(histories), workers_used=len(workers))
