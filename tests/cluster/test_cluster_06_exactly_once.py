"""Scenario 6: every step ran exactly once per attempt, read from the transitions table."""

from __future__ import annotations

import time

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
from workloads import diamond

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 30


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> ScenarioRun:
    requests = diamond(TASKS)
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    return ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)


def check(run: ScenarioRun, records: ServerRecords) -> None:
    checks.fault_free(records, run)


def test_every_step_is_claimed_once_and_passes_through_every_state_once(
    run: ScenarioRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    histories = records.step_histories(run.uuids)
    workers = {instance for history in histories for _, instance in history.claims()}
    figures.throughput(TASKS, run.seconds, steps=len(histories), workers_used=len(workers))


@each_fault(*FAULT_FREE)
def test_scenario_06_sees(fault: Fault, run: ScenarioRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
