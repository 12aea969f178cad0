"""Scenario 5: eventual consistency after concurrent creates, cancels and reads."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import checks
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords, StepHistory
from tamper import FAULT_FREE, Fault, assert_sees, each_fault, write
from workloads import linear, slow

from tasker_cluster.testing import BlockingManager, CreatedTask, MultiInstanceTestManager, TaskApiError, TaskRequest
from tasker_cluster.testing.concurrency import gather
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

CANCEL_TARGETS = 10
SHORT_TASKS = 20
OTHER_TASKS = 20
LATE_TASKS = 10
# Tasks to cancel run long enough that the cancel lands while their step still runs.
LONG_MS = 3000
SHORT_MS = 100


@dataclass(frozen=True)
class MixedRun(ScenarioRun):
    cancel_targets: tuple[str, ...] = ()


async def _cancel(manager: MultiInstanceTestManager, task_uuid: str) -> str:
    """The status the cancel left, or "too-late" when the task had already finished (409)."""
    try:
        return (await manager.cancel_task(task_uuid)).status
    except TaskApiError as error:
        if error.status_code == 409:
            return "too-late"
        raise


async def _mixed(manager: MultiInstanceTestManager) -> tuple[list[TaskRequest], list[CreatedTask]]:
    """Creates, then cancels, reads and more creates all at once; returns every request and the task it created."""
    requests = [*slow(CANCEL_TARGETS, LONG_MS), *slow(SHORT_TASKS, SHORT_MS), *linear(OTHER_TASKS)]
    first = await manager.create_tasks_concurrent(requests)
    late_requests = linear(LATE_TASKS, start=OTHER_TASKS)
    reads = random.Random(5).sample([task.task_uuid for task in first], 20)
    operations = [
        *[lambda uuid=task.task_uuid: _cancel(manager, uuid) for task in first[:CANCEL_TARGETS]],
        *[lambda uuid=uuid: manager.get_task(uuid) for uuid in reads],
        lambda: manager.create_tasks_concurrent(late_requests),
    ]
    results = await gather(operations)
    late = results[-1]
    assert isinstance(late, list)
    return [*requests, *late_requests], [*first, *late]


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, records: ServerRecords) -> MixedRun:
    started = time.monotonic()
    requests, created = scenario_manager.call(_mixed, scenario_manager.manager)
    uuids = [task.task_uuid for task in created]
    scenario_manager.wait_for_tasks_completion(uuids, timeout=120)
    wait_until(lambda: records.unsettled_steps(uuids) == 0, timeout=60, what="every step has settled")
    # A step cancelled while it ran goes on in its worker: check once each one's late outcome came back.
    wait_until(
        lambda: not _cancelled_while_running(records, uuids, refused=False),
        timeout=60,
        what="the outcome of every step cancelled while it ran was refused",
    )
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return MixedRun(**vars(base), cancel_targets=tuple(uuids[:CANCEL_TARGETS]))


def _cancelled_while_running(records: ServerRecords, uuids: Sequence[str], *, refused: bool) -> list[StepHistory]:
    """The steps cancelled in progress whose late outcome was refused already (`refused`), or not yet."""
    return [
        history
        for history in records.step_histories(uuids)
        if _cancelled_as_it_ran(history) and bool(history.refused) == refused
    ]


def _cancelled_as_it_ran(history: StepHistory) -> bool:
    return any(change[1:3] == ("in_progress", "cancelled") for change in history.changes)


def check(run: MixedRun, records: ServerRecords) -> None:
    checks.one_attempt_per_request(run)
    checks.recorded_correctly(records, run)
    others = [uuid for uuid in run.uuids if uuid not in run.cancel_targets]
    checks.finished_as(records, run.cancel_targets, {"cancelled", "complete"})
    checks.finished_as(records, others, {"complete"})
    rows = records.tasks(run.uuids)
    cancelled = [uuid for uuid in run.cancel_targets if rows[uuid].status == "cancelled"]
    assert cancelled, "no cancel landed before its task completed: the scenario proved nothing about cancels"
    steps = records.steps(cancelled)
    for uuid in cancelled:
        states = {row.state for row in steps[uuid].values()}
        assert states <= {"cancelled", "complete"}, f"cancelled task {uuid} has steps in {sorted(states)}"
    # A step running when its task was cancelled was cancelled with it, and its late outcome refused, visibly: the
    # attempt the cancel ended, from `cancelled`, by the worker that ran it. (That nothing followed the cancel, no
    # completion and no other attempt, recorded_correctly checks: a cancelled attempt has no outcome.)
    stopped = [history for history in records.step_histories(cancelled) if _cancelled_as_it_ran(history)]
    assert stopped, "no cancel landed while a step ran: the scenario proved nothing about running steps"
    for history in stopped:
        attempt, claimer = history.claims()[-1]
        assert history.refused == [(attempt, "cancelled", claimer)], (
            f"{history.where}: the late outcome of attempt {attempt} by {claimer} is not recorded as refused: "
            f"{history.refused}"
        )
    # A cancelled task's path depends on when the cancel landed; every other one is the template's.
    checks.steps_took_clean_paths(records, run, exempt={(uuid, "nap") for uuid in cancelled})


def test_instances_agree_after_concurrent_creates_cancels_and_reads(
    run: MixedRun, records: ServerRecords, scenario_manager: BlockingManager, figures: ScenarioFigures
) -> None:
    check(run, records)
    checks.served_as_recorded(scenario_manager, records, run.uuids)
    rows = records.tasks(run.uuids)
    figures.throughput(
        len(run.uuids),
        run.seconds,
        cancels=len(run.cancel_targets),
        cancelled=sum(rows[uuid].status == "cancelled" for uuid in run.cancel_targets),
    )


def _stopped_step(records: ServerRecords, run: MixedRun) -> StepHistory:
    """A step of a cancelled task that was running when the cancel landed (its late outcome refused)."""
    return _cancelled_while_running(records, run.cancel_targets, refused=True)[0]


def _late_outcome_accepted(records: ServerRecords, run: MixedRun) -> MixedRun:
    """The refused outcome of a step cancelled while it ran, recorded as its completion instead."""
    write(
        records,
        "accept_refused_outcome",
        uuids=list(run.cancel_targets),
        instance=_stopped_step(records, run).refused[0][2],
    )
    return run


def _late_outcome_unrecorded(records: ServerRecords, run: MixedRun) -> MixedRun:
    """The refused outcomes of the steps cancelled while they ran, turned away without a trace."""
    write(records, "forget_refused_outcomes", uuids=list(run.cancel_targets))
    return run


def _run_after_cancel(records: ServerRecords, run: MixedRun) -> MixedRun:
    """A step cancelled while it ran, taken over by another attempt (its worker gone) and completed anyway."""
    stopped = _stopped_step(records, run)
    write(records, "run_again", task_uuid=stopped.task_uuid, step=stopped.step_name)
    return run


@each_fault(
    *FAULT_FREE,
    Fault("a cancelled step's late outcome accepted", _late_outcome_accepted, r"complete after cancelled"),
    Fault(
        "a cancelled step's late outcome refused without a trace", _late_outcome_unrecorded, r"not recorded as refused"
    ),
    Fault("a cancelled step run again", _run_after_cancel, r"attempt 1 by .* ended without an outcome"),
)
def test_scenario_05_sees(fault: Fault, run: MixedRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
