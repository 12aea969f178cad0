"""Scenario 4: read-after-write from every instance, immediately after each creation."""

from __future__ import annotations

import time

import pytest
from workloads import linear

from tasker_cluster.testing import CREATION_FIELDS, BlockingManager, compare_tasks
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 20


def test_every_instance_returns_a_task_the_moment_it_was_created(
    manager: BlockingManager, figures: ScenarioFigures
) -> None:
    started = time.monotonic()
    uuids = []
    for request in linear(TASKS):
        created = manager.create_task(request)
        views = manager.call(manager.cluster.fetch_from_all, created.task_uuid)
        assert len(views) == manager.orchestration_count()
        assert compare_tasks(views, only=CREATION_FIELDS) == []
        assert {view.created_by for view in views.values()} == {created.created_by}
        uuids.append(created.task_uuid)
    reads_s = time.monotonic() - started
    manager.wait_for_tasks_completion(uuids, timeout=120)
    for task_uuid in uuids:
        manager.verify_task_consistency(task_uuid)
    figures.throughput(TASKS, reads_s, reads_per_task=manager.orchestration_count())
