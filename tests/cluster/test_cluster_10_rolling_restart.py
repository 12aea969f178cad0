"""Scenario 10: a graceful rolling restart of every instance under load loses nothing."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import anyio
import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault
from workloads import slow

from tasker_cluster.testing import BlockingManager, CreatedTask, FaultDriver, MultiInstanceTestManager, TaskRequest
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

BATCH = 4
STEP_MS = 50


@dataclass(frozen=True)
class RollingRestartRun(ScenarioRun):
    restarted: tuple[str, ...] = ()
    # Seconds from each stop to the cluster being healthy again.
    restart_s: tuple[float, ...] = ()


async def _load(
    manager: MultiInstanceTestManager, stop: anyio.Event, sent: list[TaskRequest], created: list[CreatedTask]
) -> None:
    """Create small batches of tasks until told to stop."""
    while not stop.is_set():
        batch = slow(BATCH, STEP_MS)
        sent.extend(batch)
        created.extend(await manager.create_tasks_concurrent(batch))


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, faults: FaultDriver) -> RollingRestartRun:
    names = tuple(faults.instances("orchestration") + faults.instances("worker"))
    sent: list[TaskRequest] = []
    created: list[CreatedTask] = []
    stop = scenario_manager.call(_new_event)
    started = time.monotonic()
    load = scenario_manager.submit(_load, scenario_manager.manager, stop, sent, created)
    restart_s = []
    try:
        for name in names:
            began = time.monotonic()
            faults.restart(name)
            scenario_manager.wait_for_healthy(60)
            restart_s.append(time.monotonic() - began)
    finally:
        scenario_manager.call(_set, stop)
        load.result(timeout=60)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    base = ScenarioRun.of(scenario_manager, sent, created, time.monotonic() - started)
    return RollingRestartRun(**vars(base), restarted=names, restart_s=tuple(restart_s))


def check(run: RollingRestartRun, records: ServerRecords) -> None:
    """A graceful stop lets running steps finish: nothing lost, nothing duplicated, no step run twice."""
    checks.recorded_correctly(records, run)
    checks.finished_as(records, run.uuids, {"complete"})
    checks.steps_took_clean_paths(records, run)


def test_restarting_every_instance_in_turn_under_load_loses_no_task(
    run: RollingRestartRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(
        len(run.uuids),
        run.seconds,
        restarted=len(run.restarted),
        restart_s=f"{statistics.median(run.restart_s):.2f} (max {max(run.restart_s):.2f})",
        retried_creations=run.retries.count("create"),
        retried_reads=run.retries.count("read"),
    )


@each_fault(*EVERY_SCENARIO)
def test_scenario_10_sees(fault: Fault, run: RollingRestartRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)


async def _new_event() -> anyio.Event:
    return anyio.Event()


async def _set(event: anyio.Event) -> None:
    event.set()
