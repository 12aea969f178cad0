"""Scenario 1: concurrent creation across instances."""

from __future__ import annotations

import time

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
from workloads import linear

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 50


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> ScenarioRun:
    requests = linear(TASKS)
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    return ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)


def check(run: ScenarioRun, records: ServerRecords, manager: BlockingManager) -> None:
    checks.fault_free(records, run)
    creators = records.created_by(run.uuids)
    assert len(creators) == manager.orchestration_count(), f"not every instance created tasks: {dict(creators)}"
    checks.served_as_recorded(manager, records, run.uuids)


def test_concurrent_creation_across_instances_completes_every_task_consistently(
    run: ScenarioRun, records: ServerRecords, scenario_manager: BlockingManager, figures: ScenarioFigures
) -> None:
    check(run, records, scenario_manager)
    figures.throughput(TASKS, run.seconds, instances=scenario_manager.orchestration_count())


@each_fault(*FAULT_FREE)
def test_scenario_01_sees(
    fault: Fault, run: ScenarioRun, records: ServerRecords, scenario_manager: BlockingManager
) -> None:
    assert_sees(fault, lambda run, records: check(run, records, scenario_manager), run, records)
