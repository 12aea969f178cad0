"""Scenario 7: a step that fails once is retried to success; one that always fails ends in error."""

from __future__ import annotations

import time

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault, write
from workloads import named

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

FAIL_ONCE = 10
ALWAYS_FAIL = 5


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> ScenarioRun:
    requests = [*named("fail_once", FAIL_ONCE), *named("always_fail", ALWAYS_FAIL)]
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    return ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)


def check(run: ScenarioRun, records: ServerRecords) -> None:
    """The template's own retries, exactly: flaky claimed twice, doomed three times (max_attempts), never_runs
    cancelled without a claim (workloads.clean_path)."""
    checks.one_attempt_per_request(run)
    checks.recorded_correctly(records, run)
    checks.finished_as(records, run.uuids[:FAIL_ONCE], {"complete"})
    checks.finished_as(records, run.uuids[FAIL_ONCE:], {"error"})
    checks.steps_took_clean_paths(records, run)


def test_fail_once_completes_on_the_second_attempt_and_always_fail_ends_in_error(
    run: ScenarioRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(FAIL_ONCE + ALWAYS_FAIL, run.seconds, fail_once=FAIL_ONCE, always_fail=ALWAYS_FAIL)


def _doomed_claimed_again(records: ServerRecords, run: ScenarioRun) -> ScenarioRun:
    """always_fail's doomed step given a fourth attempt, past its max_attempts."""
    write(records, "run_again", task_uuid=run.uuids[-1], step="doomed")
    return run


@each_fault(*FAULT_FREE, Fault("a failed step run past max_attempts", _doomed_claimed_again, r"after error"))
def test_scenario_07_sees(fault: Fault, run: ScenarioRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
