"""Scenario 2: a rapid burst of creations, none duplicated, none lost."""

from __future__ import annotations

import time
from dataclasses import dataclass

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
from workloads import slow

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 500
IN_FLIGHT = 32


@dataclass(frozen=True)
class BurstRun(ScenarioRun):
    creation_s: float = 0.0


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> BurstRun:
    requests = slow(TASKS, ms=0)
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests, concurrency=IN_FLIGHT)
    creation_s = time.monotonic() - started
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=180)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return BurstRun(**vars(base), creation_s=creation_s)


def check(run: ScenarioRun, records: ServerRecords) -> None:
    checks.fault_free(records, run)


def test_a_burst_of_500_creations_has_no_duplicate_and_loses_nothing(
    run: BurstRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.report(
        tasks=TASKS,
        creation_s=f"{run.creation_s:.2f}",
        creations_per_s=f"{TASKS / run.creation_s:.0f}",
        duration_s=f"{run.seconds:.2f}",
        tasks_per_s=f"{TASKS / run.seconds:.1f}",
        retried=run.retries.count(),
    )


@each_fault(*FAULT_FREE)
def test_scenario_02_sees(fault: Fault, run: BurstRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
