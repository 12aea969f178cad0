"""Scenario 5: eventual consistency after concurrent creates, cancels and reads."""

from __future__ import annotations

import random
import time
from functools import partial

import pytest
from faults import wait_until
from records import ServerRecords
from workloads import linear, slow

from tasker_cluster.testing import BlockingManager, MultiInstanceTestManager, TaskApiError
from tasker_cluster.testing.concurrency import gather
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

CANCEL_TARGETS = 10
SHORT_TASKS = 20
OTHER_TASKS = 20
LATE_TASKS = 10
# Tasks to cancel run long enough that the cancel lands while their step still runs.
LONG_MS = 3000
SHORT_MS = 100
TERMINAL = {"complete", "error", "cancelled"}


async def _cancel(manager: MultiInstanceTestManager, task_uuid: str) -> str:
    """The status the cancel left, or "too-late" when the task had already finished (409)."""
    try:
        return (await manager.cancel_task(task_uuid)).status
    except TaskApiError as error:
        if error.status_code == 409:
            return "too-late"
        raise


async def _mixed(manager: MultiInstanceTestManager) -> tuple[list[str], list[str], list[str]]:
    """Creates, then cancels, reads and more creates all at once; returns (all uuids, cancelled ones, outcomes)."""
    first = await manager.create_tasks_concurrent(
        [*slow(CANCEL_TARGETS, LONG_MS), *slow(SHORT_TASKS, SHORT_MS), *linear(OTHER_TASKS)]
    )
    uuids = [task.task_uuid for task in first]
    to_cancel = uuids[:CANCEL_TARGETS]
    reads = random.Random(5).sample(uuids, 20)
    operations = [
        *[partial(_cancel, manager, task_uuid) for task_uuid in to_cancel],
        *[partial(manager.get_task, task_uuid) for task_uuid in reads],
        partial(manager.create_tasks_concurrent, linear(LATE_TASKS, start=OTHER_TASKS)),
    ]
    results = await gather(operations)
    outcomes = [result for result in results[: len(to_cancel)] if isinstance(result, str)]
    late = results[-1]
    assert isinstance(late, list)
    return [*uuids, *(task.task_uuid for task in late)], to_cancel, outcomes


def test_instances_agree_after_concurrent_creates_cancels_and_reads(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    started = time.monotonic()
    uuids, cancelled, outcomes = manager.call(_mixed, manager.manager)
    finished = {task.task_uuid: task for task in manager.wait_for_tasks_completion(uuids, timeout=120)}
    # Eventually: a step running when its task was cancelled still finishes; compare once all have settled.
    wait_until(lambda: records.unsettled_steps(uuids) == 0, timeout=60, what="every step has settled")
    elapsed = time.monotonic() - started

    rows = records.tasks(uuids)
    histories = records.task_histories(uuids)
    for task_uuid in uuids:
        agreed = manager.verify_task_consistency(task_uuid)
        assert agreed.status == rows[task_uuid].status == finished[task_uuid].status
        expected = {"cancelled", "complete"} if task_uuid in cancelled else {"complete"}
        assert agreed.status in expected, f"{task_uuid}: {agreed.status}"
        history = histories[task_uuid]
        assert history[-1] == agreed.status and sum(state in TERMINAL for state in history) == 1, history
        if agreed.status == "cancelled":
            assert {step.status for step in agreed.steps} <= {"cancelled", "complete"}
    assert any(finished[task_uuid].status == "cancelled" for task_uuid in cancelled), outcomes
    figures.throughput(
        len(uuids),
        elapsed,
        cancels=len(cancelled),
        cancelled=sum(finished[u].status == "cancelled" for u in cancelled),
    )
