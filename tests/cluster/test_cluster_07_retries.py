"""Scenario 9: a step that fails once is retried to success; one that always fails ends in error."""

from __future__ import annotations

import time

import pytest
from records import ServerRecords
from workloads import named

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

FAIL_ONCE = 10
ALWAYS_FAIL = 5
MAX_ATTEMPTS = 3  # config/templates/examples/always_fail.toml


def test_fail_once_completes_on_the_second_attempt_and_always_fail_ends_in_error(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    started = time.monotonic()
    flaky = [task.task_uuid for task in manager.create_tasks_concurrent(named("fail_once", FAIL_ONCE))]
    doomed = [task.task_uuid for task in manager.create_tasks_concurrent(named("always_fail", ALWAYS_FAIL))]
    finished = {task.task_uuid: task for task in manager.wait_for_tasks_completion(flaky + doomed, timeout=120)}
    elapsed = time.monotonic() - started

    for task_uuid in flaky:
        task = finished[task_uuid]
        assert task.status == "complete"
        assert task.step("flaky").attempts == 2
        assert task.step("confirm").status == "complete"
    for task_uuid in doomed:
        task = finished[task_uuid]
        assert task.status == "error"
        assert task.step("doomed").attempts == MAX_ATTEMPTS
        assert task.step("doomed").status == "error"
        assert task.step("never_runs").attempts == 0

    histories = {(h.task_uuid, h.step_name): h for h in records.step_histories(flaky + doomed)}
    for task_uuid in flaky:
        assert [attempt for attempt, _ in histories[(task_uuid, "flaky")].claims()] == [1, 2]
    for task_uuid in doomed:
        assert [attempt for attempt, _ in histories[(task_uuid, "doomed")].claims()] == [1, 2, 3]
        assert histories[(task_uuid, "never_runs")].claims() == []
    figures.throughput(FAIL_ONCE + ALWAYS_FAIL, elapsed, fail_once=FAIL_ONCE, always_fail=ALWAYS_FAIL)
