"""Scenario 10: a graceful rolling restart of every instance under load loses nothing."""

from __future__ import annotations

import time

import anyio
import pytest
from records import ServerRecords
from workloads import slow

from tasker_cluster.testing import BlockingManager, CreatedTask, FaultDriver, MultiInstanceTestManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

BATCH = 4
STEP_MS = 50


async def _load(manager: MultiInstanceTestManager, stop: anyio.Event, created: list[CreatedTask]) -> None:
    """Create small batches of tasks until told to stop."""
    while not stop.is_set():
        created.extend(await manager.create_tasks_concurrent(slow(BATCH, STEP_MS)))


def test_restarting_every_instance_in_turn_under_load_loses_no_task(
    manager: BlockingManager, records: ServerRecords, faults: FaultDriver, figures: ScenarioFigures
) -> None:
    names = faults.instances("orchestration") + faults.instances("worker")
    created: list[CreatedTask] = []
    stop = manager.call(_new_event)
    started = time.monotonic()
    load = manager.submit(_load, manager.manager, stop, created)
    try:
        for name in names:
            faults.restart(name)
            manager.wait_for_healthy(60)
    finally:
        manager.call(_set, stop)
        load.result(timeout=60)
    uuids = [task.task_uuid for task in created]
    finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    elapsed = time.monotonic() - started

    assert {task.status for task in finished} == {"complete"}
    assert set(records.tasks_per_key([task.idempotency_key for task in created]).values()) == {1}
    assert len(records.tasks(uuids)) == len(set(uuids)) == len(created)
    rerun = [h.changes for h in records.step_histories(uuids) if len(h.claims()) != 1]
    assert rerun == [], "a graceful stop lets running steps finish: none should run twice"
    figures.throughput(len(created), elapsed, restarted=len(names))


async def _new_event() -> anyio.Event:
    return anyio.Event()


async def _set(event: anyio.Event) -> None:
    event.set()
