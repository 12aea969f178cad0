"""What every scenario checks on the tasks it created, from the database's records: each request created exactly
one task (counted by the test's marker, so a duplicate under another idempotency key shows), each step ran exactly
once per attempt, each result is the template's, and nothing was retried where no fault was injected.

Each check raises AssertionError naming what it found; the "sees the fault" tests match on those messages.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from records import ServerRecords, StepHistory
from workloads import clean_path, expected_results

from tasker_cluster.testing import BlockingManager, CreatedTask, RetryLog, TaskRequest
from tasker_cluster.words import counted

TERMINAL_TASK = frozenset({"complete", "error", "cancelled"})


@dataclass(frozen=True)
class ScenarioRun:
    """What a scenario's workload did: its requests and the tasks they created (same order), the marker tag on
    them, every attempt the harness retried, and how long it took."""

    marker: str
    requests: Sequence[TaskRequest]
    created: Sequence[CreatedTask]
    retries: RetryLog
    seconds: float

    @classmethod
    def of(
        cls, manager: BlockingManager, requests: Sequence[TaskRequest], created: Sequence[CreatedTask], seconds: float
    ) -> ScenarioRun:
        assert manager.marker is not None, "scenario managers mark their tasks"
        return cls(manager.marker, list(requests), list(created), manager.retries.snapshot(), seconds)

    @property
    def uuids(self) -> list[str]:
        return [task.task_uuid for task in self.created]

    def request_of(self) -> dict[str, TaskRequest]:
        return {task.task_uuid: request for request, task in zip(self.requests, self.created, strict=True)}


def one_attempt_per_request(run: ScenarioRun) -> None:
    """No fault was injected, so no request may have needed a second attempt: a retry would hide a failure."""
    assert run.retries.count() == 0, (
        f"the harness retried {run.retries.count()} attempt(s) in a scenario with no fault: {run.retries.describe()}"
    )
    assert all(task.attempts == 1 and not task.replayed for task in run.created), "a creation took a second attempt"


def created_as_requested(records: ServerRecords, run: ScenarioRun) -> None:
    """One task per request: the database holds exactly the tasks the requests returned, under the test's marker."""
    returned = {task.task_uuid for task in run.created}
    assert len(returned) == len(run.requests), f"{len(run.requests)} requests returned {len(returned)} distinct tasks"
    stored = set(records.marked(run.marker))
    extra, missing = sorted(stored - returned), sorted(returned - stored)
    assert not extra and not missing, (
        f"the database holds {len(stored)} tasks marked {run.marker} for {len(run.requests)} requests: "
        f"{len(extra)} extra {extra[:3]} (created twice), {len(missing)} missing {missing[:3]} (lost)"
    )


def finished_as(records: ServerRecords, uuids: Collection[str], allowed: Collection[str]) -> None:
    rows = records.tasks(list(uuids))
    wrong = {uuid: rows[uuid].status for uuid in uuids if uuid in rows and rows[uuid].status not in allowed}
    assert not wrong, (
        f"{counted(len(wrong), 'task')} ended other than {sorted(allowed)}: {dict(list(wrong.items())[:5])}"
    )


def task_histories_clean(records: ServerRecords, run: ScenarioRun) -> None:
    """pending, steps_in_process, then one terminal status: the one the task row holds."""
    rows = records.tasks(run.uuids)
    histories = records.task_histories(run.uuids)
    for uuid in run.uuids:
        history = histories.get(uuid, [])
        final = rows[uuid].status if uuid in rows else "<no row>"
        assert history == ["pending", "steps_in_process", final] and final in TERMINAL_TASK, (
            f"task {uuid} went {history}, its row says {final}"
        )


def steps_once_per_attempt(records: ServerRecords, run: ScenarioRun, killed: Collection[str] = ()) -> None:
    """From the step transitions: attempts claimed 1, 2, ... once each; each attempt ended at most once; an attempt
    left without an outcome was taken over by the next one and belonged to an instance killed on purpose; every
    change starts where the last one ended; the step row agrees with its history."""
    rows = records.steps(run.uuids)
    histories = {(history.task_uuid, history.step_name): history for history in records.step_histories(run.uuids)}
    for uuid in run.uuids:
        for name, row in rows.get(uuid, {}).items():
            history = histories.get((uuid, name))
            assert history is not None, f"step {uuid}/{name} has no recorded transitions"
            _once_per_attempt(history, killed)
            last = history.changes[-1][2]
            claims = len(history.claims())
            assert (row.state, row.attempts) == (last, claims), (
                f"{history.where}: its row says {row.state} after {row.attempts} attempt(s), its transitions "
                f"{last} after {claims}"
            )


def _once_per_attempt(history: StepHistory, killed: Collection[str]) -> None:
    claims = history.claims()
    attempts = [attempt for attempt, _ in claims]
    assert attempts == list(range(1, len(claims) + 1)), f"{history.where}: claimed as attempts {attempts}"
    outcomes = history.outcomes()
    for attempt, count in sorted(outcomes.items()):
        assert count <= 1, f"{history.where}: attempt {attempt} ended {count} times: {history.changes}"
    for attempt, claimer in claims[:-1] if claims else []:
        if outcomes[attempt] == 0:
            assert claimer in killed, (
                f"{history.where}: attempt {attempt} by {claimer} ended without an outcome, and {claimer} was not "
                f"killed: {history.changes}"
            )
    previous: str | None = None
    for _, from_state, to_state, _ in history.changes:
        assert from_state == previous, f"{history.where}: {from_state} -> {to_state} after {previous}"
        previous = to_state


def steps_took_clean_paths(records: ServerRecords, run: ScenarioRun, exempt: Collection[tuple[str, str]] = ()) -> None:
    """Every step (but the `exempt` (task, step) pairs) recorded exactly its template's path: one claim per attempt
    the template itself asks for, no step run again."""
    request_of = run.request_of()
    for history in records.step_histories(run.uuids):
        if (history.task_uuid, history.step_name) in exempt:
            continue
        expected = clean_path(request_of[history.task_uuid], history.step_name)
        assert history.states() == expected, f"{history.where} went {history.states()}, expected {expected}"


def results_as_expected(records: ServerRecords, run: ScenarioRun) -> None:
    """Each task has its template's steps; a completed step holds the template's result, any other holds none."""
    steps = records.steps(run.uuids)
    for request, task in zip(run.requests, run.created, strict=True):
        expected = expected_results(request)
        recorded = steps.get(task.task_uuid, {})
        assert set(recorded) == set(expected), f"task {task.task_uuid} has steps {sorted(recorded)}"
        for name, row in recorded.items():
            want = expected[name] if row.state == "complete" else None
            assert row.result == want, (
                f"wrong result for {task.task_uuid}/{name} ({row.state}): recorded {row.result!r}, expected {want!r}"
            )


def recorded_correctly(records: ServerRecords, run: ScenarioRun, killed: Collection[str] = ()) -> None:
    """The checks every scenario makes on its own tasks, from the database."""
    created_as_requested(records, run)
    task_histories_clean(records, run)
    steps_once_per_attempt(records, run, killed)
    results_as_expected(records, run)


def fault_free(records: ServerRecords, run: ScenarioRun) -> None:
    """What a scenario that injected no fault checks when every task it created must complete: no request retried,
    every record right, and every step on its template's path."""
    one_attempt_per_request(run)
    recorded_correctly(records, run)
    finished_as(records, run.uuids, {"complete"})
    steps_took_clean_paths(records, run)


def served_as_recorded(manager: BlockingManager, records: ServerRecords, uuids: Sequence[str]) -> None:
    """Every orchestration instance returns the same task, and it is the database's: status and each result."""
    rows = records.tasks(uuids)
    steps = records.steps(uuids)
    for uuid in uuids:
        agreed = manager.verify_task_consistency(uuid)
        served: dict[str, Any] = {step.name: (step.status, step.result) for step in agreed.steps}
        stored = {name: (row.state, row.result) for name, row in steps.get(uuid, {}).items()}
        assert (agreed.status, served) == (rows[uuid].status, stored), (
            f"task {uuid} is served as {agreed.status} {served}, the database holds {rows[uuid].status} {stored}"
        )
