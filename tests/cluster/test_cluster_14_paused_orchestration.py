"""Scenario 14: an orchestration instance paused with SIGSTOP mid-burst, then resumed: the creations it holds time out
and the harness sends them again, under the same idempotency key, to the other instance; when the paused one wakes
and serves them late, the key makes it answer with the task already created. No task is duplicated."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import checks
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault
from workloads import linear

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.manager import new_marker
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 150
PAUSE_AFTER = 30
# Short, so that a creation the paused instance holds is sent again soon; far above an answer's time here.
REQUEST_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PausedOrchestrationRun(ScenarioRun):
    victim: str = ""
    paused_s: float = 0.0


@pytest.fixture(scope="module")
def impatient_manager(cluster: ClusterUnderTest, request: pytest.FixtureRequest) -> Iterator[BlockingManager]:
    """The scenario's manager, giving up on an answer after REQUEST_TIMEOUT_S rather than the default 30 s."""
    config = dataclasses.replace(cluster.config, request_timeout=REQUEST_TIMEOUT_S)
    with BlockingManager.open(config, marker=new_marker(request.module.__name__)) as manager:
        manager.wait_for_healthy(60)
        yield manager


@pytest.fixture(scope="module")
def run(impatient_manager: BlockingManager, faults: FaultDriver) -> PausedOrchestrationRun:
    manager = impatient_manager
    victim = faults.instances("orchestration")[0]
    requests = linear(TASKS)
    started = time.monotonic()
    burst = manager.submit(manager.manager.create_tasks_concurrent, requests, 8)
    wait_until(lambda: len(manager.served) >= PAUSE_AFTER, timeout=30, what=f"{PAUSE_AFTER} tasks are created")
    faults.pause(victim)
    try:
        paused_at = time.monotonic()
        wait_until(
            lambda: any(served.attempts > 1 for served in manager.served),
            timeout=30,
            what="a creation held by the paused instance is sent again",
        )
        paused_s = time.monotonic() - paused_at
    finally:
        faults.resume(victim)
    created = burst.result(timeout=120)
    manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    manager.wait_for_healthy(30)
    base = ScenarioRun.of(manager, requests, created, time.monotonic() - started)
    return PausedOrchestrationRun(**vars(base), victim=victim, paused_s=paused_s)


def check(run: PausedOrchestrationRun, records: ServerRecords) -> None:
    """Every request created exactly one task although some were sent twice (and served twice); no step ran twice:
    the results the paused instance held are advanced by the other one, harmlessly."""
    sent_again = [task for task in run.created if task.attempts > 1]
    assert sent_again, "no creation was sent again: the scenario proved nothing"
    assert run.retries.count("create") >= len(sent_again), "a creation sent again is missing from the retry log"
    checks.recorded_correctly(records, run)
    checks.finished_as(records, run.uuids, {"complete"})
    checks.steps_took_clean_paths(records, run)


def test_an_orchestration_paused_mid_burst_costs_retries_but_never_a_duplicate_task(
    run: PausedOrchestrationRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(
        TASKS,
        run.seconds,
        paused=run.victim,
        paused_s=f"{run.paused_s:.2f}",
        sent_again=sum(task.attempts > 1 for task in run.created),
        retried_creations=run.retries.count("create"),
        created_by=dict(records.created_by(run.uuids)),
    )


@each_fault(*EVERY_SCENARIO)
def test_scenario_14_sees(fault: Fault, run: PausedOrchestrationRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
