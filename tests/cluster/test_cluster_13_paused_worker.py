"""Scenario 13: a worker paused with SIGSTOP while it holds claimed steps, past their visibility timeout, then resumed:
other workers take the steps over, its late results are refused (and the refusal is in the transitions), and no
step completes twice."""

from __future__ import annotations

import time
from dataclasses import dataclass

import checks
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords, StepHistory
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault, write
from workloads import slow

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 40
# Long enough that the victim surely holds steps when it is paused, short enough to end soon once it resumes.
STEP_MS = 1500
# The workers' visibility timeout (TASKER_WORKER_VISIBILITY_TIMEOUT, 5 s by default) passes during the pause.
TAKEOVER_TIMEOUT_S = 60


@dataclass(frozen=True)
class PausedWorkerRun(ScenarioRun):
    victim: str = ""
    # (task, step): attempt of every step the victim was running when it was paused.
    held: tuple[tuple[str, str, int], ...] = ()
    paused_s: float = 0.0


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, records: ServerRecords, faults: FaultDriver) -> PausedWorkerRun:
    requests = slow(TASKS, STEP_MS)
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests)
    uuids = [task.task_uuid for task in created]
    wait_until(lambda: records.running_steps(uuids), timeout=30, what="a worker runs a step")
    # The busiest worker, so the pause surely catches steps in flight.
    [(victim, _)] = records.claims_per_instance(uuids).most_common(1)
    assert victim in faults.instances("worker")
    faults.pause(victim)
    try:
        paused_at = time.monotonic()
        held = {(r.task_uuid, r.step_name): r.attempt for r in records.running_steps(uuids) if r.instance == victim}

        def released() -> bool:
            running = {(r.task_uuid, r.step_name): r.attempt for r in records.running_steps(uuids)}
            # Taken over (a later attempt runs, or already finished), or finished by the victim just before.
            return all(running.get(step) != attempt for step, attempt in held.items())

        wait_until(released, timeout=TAKEOVER_TIMEOUT_S, what=f"the steps {victim} holds are taken over")
        paused_s = time.monotonic() - paused_at
    finally:
        faults.resume(victim)
    scenario_manager.wait_for_tasks_completion(uuids, timeout=120)
    taken = [h for h in records.step_histories(uuids) if (h.task_uuid, h.step_name) in held and _unfinished_attempt(h)]
    # The victim records its late outcomes as soon as its steps' sleeps end, moments after it resumes.
    wait_until(
        lambda: sum(len(h.refused) for h in records.step_histories(uuids)) >= len(taken),
        timeout=30,
        what=f"{victim} has tried its late writes",
    )
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return PausedWorkerRun(
        **vars(base),
        victim=victim,
        held=tuple((task, step, attempt) for (task, step), attempt in held.items()),
        paused_s=paused_s,
    )


def check(run: PausedWorkerRun, records: ServerRecords) -> None:
    """Each step the victim held and another worker took over: its attempt ended without an outcome, the next one
    (on another worker) completed it, and the victim's late outcome is recorded as refused. Every other step took
    the template's clean path, and no one else's outcome was refused."""
    checks.recorded_correctly(records, run, killed={run.victim})
    checks.finished_as(records, run.uuids, {"complete"})
    held = {(task, step): attempt for task, step, attempt in run.held}
    histories = records.step_histories(run.uuids)
    taken = [h for h in histories if (h.task_uuid, h.step_name) in held and _unfinished_attempt(h)]
    checks.steps_took_clean_paths(records, run, exempt={(h.task_uuid, h.step_name) for h in taken})
    assert taken, f"no step {run.victim} held was taken over: the scenario proved nothing"
    for history in taken:
        attempt = held[(history.task_uuid, history.step_name)]
        finisher = history.changes[-1]
        assert finisher[2] == "complete" and finisher[3] != run.victim and finisher[0] > attempt, (
            f"{history.where}: taken over from {run.victim}, but ended as {finisher}"
        )
        late = [(at, instance) for at, _, instance in history.refused]
        assert late == [(attempt, run.victim)], (
            f"{history.where}: {run.victim}'s late outcome of attempt {attempt} is not recorded as refused: {late}"
        )
    stray = [(h.where, h.refused) for h in histories if h.refused and h not in taken]
    assert not stray, f"outcomes refused where no attempt was taken over: {stray[:3]}"


def _unfinished_attempt(history: StepHistory) -> bool:
    """An attempt of the step ended without an outcome: another one took it over."""
    return any(history.outcomes()[attempt] == 0 for attempt, _ in history.claims()[:-1])


def test_a_paused_workers_late_results_are_refused_visibly_and_no_step_completes_twice(
    run: PausedWorkerRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.report(
        tasks=TASKS,
        paused=run.victim,
        paused_s=f"{run.paused_s:.2f}",
        held=len(run.held),
        refused_late_writes=sum(len(h.refused) for h in records.step_histories(run.uuids)),
        retried_reads=run.retries.count("read"),
    )


def _late_write_accepted(records: ServerRecords, run: PausedWorkerRun) -> PausedWorkerRun:
    """The victim's late outcome recorded as a completion instead of refused: the step completed twice."""
    write(records, "accept_refused_outcome", uuids=run.uuids, instance=run.victim)
    return run


def _late_write_unrecorded(records: ServerRecords, run: PausedWorkerRun) -> PausedWorkerRun:
    """The victim's late outcome turned away without a trace."""
    write(records, "forget_refused_outcomes", uuids=run.uuids)
    return run


@each_fault(
    *EVERY_SCENARIO,
    Fault("a late outcome accepted", _late_write_accepted, r"after complete|not recorded as refused"),
    Fault("a late outcome refused without a trace", _late_write_unrecorded, r"not recorded as refused"),
)
def test_scenario_13_sees(fault: Fault, run: PausedWorkerRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
