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
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
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
        if any(change[1:3] == ("in_progress", "cancelled") for change in history.changes)
        and bool(history.refused) == refused
    ]


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
    # attempt the cancel ended, from `cancelled`, by the worker that ran it. It never completed after the cancel.
    stopped = _cancelled_while_running(records, cancelled, refused=True)
    assert stopped, "no cancel landed while a step ran: the scenario proved nothing about running steps"
    for history in stopped:
        attempt, claimer = history.claims()[-1]
        assert history.refused == [(attempt, "cancelled", claimer)], f"{history.where} refused {history.refused}"
        assert history.states()[-1] == "cancelled", f"{history.where} went {history.states()}"
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


@each_fault(*FAULT_FREE)
def test_scenario_05_sees(fault: Fault, run: MixedRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
