"""Scenario 8: `kill -9` of a worker mid-burst; its in-flight steps re-run elsewhere and every task completes.

Where the engine restarts a crashed instance (compose's `restart: on-failure`), the victim's restarted process,
named like it, may be the one that runs a step again: a new attempt all the same."""

from __future__ import annotations

import time
from dataclasses import dataclass

import checks
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords
from tamper import EVERY_SCENARIO, TAKEN_OVER_HISTORY, Fault, assert_sees, each_fault, rewrite_history, write
from workloads import slow

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 60
# Long enough that the victim surely holds steps in flight when it dies.
STEP_MS = 1500


@dataclass(frozen=True)
class WorkerCrashRun(ScenarioRun):
    victim: str = ""
    # The engine restarted the victim by itself (FaultDriver.restarts_crashed).
    restarted: bool = False


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, records: ServerRecords, faults: FaultDriver) -> WorkerCrashRun:
    requests = slow(TASKS, STEP_MS)
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests)
    uuids = [task.task_uuid for task in created]
    wait_until(lambda: records.claims_per_instance(uuids), timeout=30, what="a worker claims a step")
    # The busiest worker, so the crash surely interrupts steps in flight.
    [(victim, _)] = records.claims_per_instance(uuids).most_common(1)
    assert victim in faults.instances("worker")
    faults.kill(victim)
    try:
        scenario_manager.wait_for_tasks_completion(uuids, timeout=120)
    finally:
        faults.start(victim)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return WorkerCrashRun(**vars(base), victim=victim, restarted=faults.restarts_crashed)


def check(run: WorkerCrashRun, records: ServerRecords) -> None:
    """Only the victim's attempts may end without an outcome, each taken over by exactly one more attempt on
    another worker (or on the victim's restarted process, where the engine restarted it); a step the victim never
    claimed took the template's clean path, no slack."""
    checks.recorded_correctly(records, run, killed={run.victim})
    checks.finished_as(records, run.uuids, {"complete"})
    histories = records.step_histories(run.uuids)
    touched = [history for history in histories if history.claimed_by(run.victim)]
    checks.steps_took_clean_paths(records, run, exempt={(h.task_uuid, h.step_name) for h in touched})
    rerun = [history for history in touched if len(history.claims()) > 1]
    for history in rerun:
        claims = history.claims()
        taker_ok = claims[-1][1] != run.victim or run.restarted
        assert len(claims) == 2 and claims[0][1] == run.victim and taker_ok, (
            f"{history.where}: the step the victim held ran as {claims}, not once more on another worker"
        )
    assert rerun, f"{run.victim} was killed with no step in flight: the scenario proved nothing"


def test_a_killed_workers_steps_run_again_on_another_worker_and_every_task_completes(
    run: WorkerCrashRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    rerun = [h for h in records.step_histories(run.uuids) if h.claimed_by(run.victim) and len(h.claims()) > 1]
    figures.throughput(
        TASKS,
        run.seconds,
        killed=run.victim,
        steps_rerun_elsewhere=len(rerun),
        retried_creations=run.retries.count("create"),
        retried_reads=run.retries.count("read"),
    )


def _untouched_step_taken_over(records: ServerRecords, run: WorkerCrashRun) -> WorkerCrashRun:
    """A step the victim never claimed, taken over as if its worker had died: the slack no fault explains."""
    untouched = next(h for h in records.step_histories(run.uuids) if not h.claimed_by(run.victim))
    rewrite_history(records, TAKEN_OVER_HISTORY, untouched.task_uuid, untouched.step_name)
    return run


def _rerun_twice(records: ServerRecords, run: WorkerCrashRun) -> WorkerCrashRun:
    """A step the victim held, taken over a second time although its first taker completed it."""
    held = next(h for h in records.step_histories(run.uuids) if h.claimed_by(run.victim) and len(h.claims()) > 1)
    write(records, "run_again", task_uuid=held.task_uuid, step=held.step_name)
    return run


@each_fault(
    *EVERY_SCENARIO,
    Fault("a step the killed worker never touched, taken over", _untouched_step_taken_over, r"was not killed"),
    Fault("a step of the killed worker run twice elsewhere", _rerun_twice, r"after complete"),
)
def test_scenario_08_sees(fault: Fault, run: WorkerCrashRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
