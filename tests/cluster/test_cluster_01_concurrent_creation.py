"""Scenario 1: concurrent creation across instances."""

from __future__ import annotations

import time

import pytest
from records import ServerRecords
from workloads import linear, linear_result

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 50


def test_concurrent_creation_across_instances_completes_every_task_consistently(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    requests = linear(TASKS)
    started = time.monotonic()
    created = manager.create_tasks_concurrent(requests)
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    elapsed = time.monotonic() - started

    assert len(set(uuids)) == TASKS
    rows = records.tasks(uuids)
    assert len(rows) == TASKS
    assert {row.status for row in rows.values()} == {"complete"}
    assert len(records.created_by(uuids)) == manager.orchestration_count()
    for request, task in zip(requests, finished, strict=True):
        assert task.step("square_4").result == linear_result(request)
    for task_uuid in uuids:
        manager.verify_task_consistency(task_uuid)
    figures.throughput(TASKS, elapsed, instances=manager.orchestration_count())
