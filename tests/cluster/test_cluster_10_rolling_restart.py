"""Scenario 10: `cluster restart --rolling` of every instance under load loses nothing, and the orchestration API
answers throughout: a probe asks it all the time, as a client with failover would, and no probe goes unanswered."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import anyio
import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault
from workloads import slow

from support.availability import AvailabilityProbe
from tasker_cluster.testing import BlockingManager, CreatedTask, FaultDriver, MultiInstanceTestManager, TaskRequest
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

BATCH = 4
STEP_MS = 50


# An API read every instance serves from the database: what a client of the cluster would be refused.
PROBED_PATH = "/v1/tasks?limit=1"


@dataclass(frozen=True)
class RollingRestartRun(ScenarioRun):
    restarted: tuple[str, ...] = ()
    # Seconds the whole roll took.
    roll_s: float = 0.0
    probes: int = 0
    unanswered: tuple[str, ...] = ()
    # Whether the engine lets a rolling restart be hitless (FaultDriver.restarts_disturb_others); if not, the
    # unanswered probes are reported, not held against the roll.
    hitless: bool = True


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
    urls = scenario_manager.cluster.config.orchestration_urls
    sent: list[TaskRequest] = []
    created: list[CreatedTask] = []
    stop = scenario_manager.call(_new_event)
    started = time.monotonic()
    load = scenario_manager.submit(_load, scenario_manager.manager, stop, sent, created)
    try:
        with AvailabilityProbe(urls, PROBED_PATH) as probe:
            began = time.monotonic()
            faults.rolling_restart()
            roll_s = time.monotonic() - began
    finally:
        scenario_manager.call(_set, stop)
        load.result(timeout=60)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    base = ScenarioRun.of(scenario_manager, sent, created, time.monotonic() - started)
    return RollingRestartRun(
        **vars(base),
        restarted=names,
        roll_s=roll_s,
        probes=probe.rounds,
        unanswered=tuple(probe.unanswered),
        hitless=not faults.restarts_disturb_others,
    )


def check(run: RollingRestartRun, records: ServerRecords) -> None:
    """A graceful stop lets running steps finish: nothing lost, nothing duplicated, no step run twice; one
    instance at a time leaves the API answering every probe."""
    assert run.probes > 0, "the availability probe asked nothing during the roll"
    if run.hitless:
        assert not run.unanswered, f"{len(run.unanswered)} of {run.probes} probes unanswered: {run.unanswered[:5]}"
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
        roll_s=f"{run.roll_s:.2f}",
        probes=run.probes,
        unanswered=len(run.unanswered) if run.hitless else f"{len(run.unanswered)} (engine, not held against it)",
        retried_creations=run.retries.count("create"),
        retried_reads=run.retries.count("read"),
    )


def _an_unanswered_probe(records: ServerRecords, run: RollingRestartRun) -> RollingRestartRun:
    """Every orchestration instance down at once, as a restart of all of them together would leave it."""
    urls = "http://127.0.0.1:1: ConnectError; http://127.0.0.1:2: ConnectError"
    return dataclasses.replace(run, unanswered=(f"round 7: {urls}",), hitless=True)


@each_fault(*EVERY_SCENARIO, Fault("an orchestration API that stopped answering", _an_unanswered_probe, "unanswered"))
def test_scenario_10_sees(fault: Fault, run: RollingRestartRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)


async def _new_event() -> anyio.Event:
    return anyio.Event()


async def _set(event: anyio.Event) -> None:
    event.set()
