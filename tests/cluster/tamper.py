"""Faults for the "sees the fault" tests: each writes one kind of wrong record into the cluster's database (in a
transaction rolled back afterwards, see ServerRecords.tampered) or into what the harness reported, and names the
failure a scenario's checks must report for it. A checker that was never seen failing is not a checker."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import pytest
from checks import ScenarioRun
from records import ServerRecords

from tasker_cluster.testing import RetryLog

Run = TypeVar("Run", bound=ScenarioRun)


class Fault(NamedTuple):
    """`inject` writes the fault and returns the run as the checks should now see it; `seen_as` is a regular
    expression the failing check's message matches."""

    name: str
    inject: Callable[[ServerRecords, Any], Any]
    seen_as: str


def write(records: ServerRecords, query: str, **params: Any) -> None:
    """Run one tamper.sql statement; it must change something, or the test would prove nothing."""
    assert records.rows_changed(query, "tamper.sql", **params) > 0, f"{query} changed nothing: no fault injected"


def a_completed_step(records: ServerRecords, run: ScenarioRun) -> tuple[str, str]:
    [row] = records.rows("a_completed_step", "tamper.sql", uuids=run.uuids)
    return row.task_uuid, row.name


def _on_a_completed_step(query: str) -> Callable[[ServerRecords, Run], Run]:
    def inject(records: ServerRecords, run: Run) -> Run:
        task_uuid, step = a_completed_step(records, run)
        write(records, query, task_uuid=task_uuid, step=step)
        return run

    return inject


def _on_a_task(query: str) -> Callable[[ServerRecords, Run], Run]:
    def inject(records: ServerRecords, run: Run) -> Run:
        write(records, query, task_uuid=run.uuids[-1])
        return run

    return inject


# (attempt, from, to) of two histories the once-per-attempt checks accept: a first attempt that failed and a second
# that completed; a first attempt that ended without an outcome (its worker gone) taken over by a second.
RETRIED_ONCE_HISTORY = [
    (0, None, "pending"),
    (0, "pending", "enqueued"),
    (1, "enqueued", "in_progress"),
    (1, "in_progress", "waiting_for_retry"),
    (1, "waiting_for_retry", "enqueued"),
    (2, "enqueued", "in_progress"),
    (2, "in_progress", "complete"),
]
TAKEN_OVER_HISTORY = [
    (0, None, "pending"),
    (0, "pending", "enqueued"),
    (1, "enqueued", "in_progress"),
    (2, "in_progress", "in_progress"),
    (2, "in_progress", "complete"),
]


def rewrite_history(
    records: ServerRecords, history: list[tuple[int, str | None, str]], task_uuid: str, step: str
) -> None:
    """Replace the step's recorded transitions with `history` (its triggers silenced, so nothing refuses it)."""
    records.rows_changed("without_step_triggers", "tamper.sql")
    write(records, "clear_history", task_uuid=task_uuid, step=step)
    attempts = max(attempt for attempt, _, _ in history)
    write(records, "write_history", task_uuid=task_uuid, step=step, attempts=attempts, history=json.dumps(history))


def _retried_once(records: ServerRecords, run: Run) -> Run:
    rewrite_history(records, RETRIED_ONCE_HISTORY, *a_completed_step(records, run))
    return run


def _a_retried_request(records: ServerRecords, run: Run) -> Run:
    retries = RetryLog([*run.retries.entries])
    retries.record("read", "http://127.0.0.1:1", "ReadTimeout")
    return dataclasses.replace(run, retries=retries)


DUPLICATED_COMPLETION = Fault(
    "a step completion recorded twice", _on_a_completed_step("duplicate_completion"), r"attempt \d+ ended 2 times"
)
RUN_AGAIN = Fault(
    "a completed step run again", _on_a_completed_step("run_again"), r"in_progress -> in_progress after complete"
)
RETRIED_ONCE = Fault(
    "a step retried though nothing failed", _retried_once, r"went \(.*'waiting_for_retry'.*\), expected"
)
WRONG_RESULT = Fault("a wrong result", _on_a_completed_step("wrong_result"), r"wrong result for .*'tampered'")
DELETED_TASK = Fault("a task deleted", _on_a_task("delete_task"), r"1 missing \[")
DUPLICATE_TASK = Fault("a second task under another key", _on_a_task("duplicate_task"), r"1 extra \[")
RETRIED_REQUEST = Fault("a retried read", _a_retried_request, r"retried 1 attempt.*ReadTimeout")

# What every scenario's checks must see, and those of a scenario that injects no fault of its own.
EVERY_SCENARIO = (DUPLICATED_COMPLETION, RUN_AGAIN, RETRIED_ONCE, WRONG_RESULT, DELETED_TASK, DUPLICATE_TASK)
FAULT_FREE = (*EVERY_SCENARIO, RETRIED_REQUEST)


def each_fault(*chosen: Fault) -> pytest.MarkDecorator:
    """Parametrize a "sees the fault" test over `chosen`, one test per fault, named by it."""
    return pytest.mark.parametrize("fault", chosen, ids=[fault.name for fault in chosen])


def assert_sees(fault: Fault, check: Callable[[Any, ServerRecords], object], run: Any, records: ServerRecords) -> str:
    """Inject `fault`, run `check` on what it left, and require the failure `fault.seen_as` names; returns the
    check's message (printed: `pytest -rP` shows which check saw which fault)."""
    with records.tampered() as tampered:
        altered = fault.inject(tampered, run)
        with pytest.raises(AssertionError, match=fault.seen_as) as raised:
            check(altered, tampered)
    message = str(raised.value).splitlines()[0]
    print(f"{fault.name}: {message}")
    return message
