"""Every state change is a guarded compare-and-set: from a wrong source state it changes nothing.

The steps walk to each state through legal transitions only (the triggers refuse anything else), then each
query that changes state is run against them.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb
from service_instances import TEMPLATES

from tasker_cluster.services.common.database import session_conninfo
from tasker_cluster.services.common.queries import query, queue_query
from tasker_cluster.services.common.queues import step_queue
from tasker_cluster.services.common.settings import ServiceSettings
from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
from tasker_cluster.services.workflow.templates import TaskTemplate, load_templates

pytestmark = pytest.mark.db

QUEUE = step_queue("examples")
STEP_STATES = ("pending", "enqueued", "in_progress", "complete", "waiting_for_retry", "error", "cancelled")
TASK_STATUSES = ("pending", "steps_in_process", "complete", "error", "cancelled")
# How a pending step reaches each state through legal transitions.
PATH_FROM_PENDING = {
    "pending": (),
    "enqueued": ("enqueued",),
    "in_progress": ("enqueued", "in_progress"),
    "complete": ("enqueued", "in_progress", "complete"),
    "waiting_for_retry": ("enqueued", "in_progress", "waiting_for_retry"),
    "error": ("enqueued", "in_progress", "error"),
    "cancelled": ("cancelled",),
}
ALLOWED_STEP_CHANGES = {
    ("pending", "enqueued"),
    ("pending", "cancelled"),
    ("enqueued", "in_progress"),
    ("enqueued", "cancelled"),
    ("in_progress", "in_progress"),
    ("in_progress", "complete"),
    ("in_progress", "waiting_for_retry"),
    ("in_progress", "error"),
    ("in_progress", "cancelled"),
    ("waiting_for_retry", "enqueued"),
    ("waiting_for_retry", "cancelled"),
}
ALLOWED_TASK_CHANGES = {
    ("pending", "steps_in_process"),
    ("pending", "cancelled"),
    ("steps_in_process", "complete"),
    ("steps_in_process", "error"),
    ("steps_in_process", "cancelled"),
}


@pytest.fixture
def conn(migrated_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    settings = ServiceSettings(role="orchestration", name="tester", port=1, database_url=migrated_database_url)
    with psycopg.connect(session_conninfo(settings), autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def linear() -> TaskTemplate:
    template = load_templates(TEMPLATES, EXAMPLE_HANDLERS.names()).find("examples", "linear")
    assert template is not None
    return template


def create_task(conn: psycopg.Connection[Any], template: TaskTemplate) -> uuid.UUID:
    task_uuid = uuid.uuid4()
    params = {
        "task_uuid": task_uuid, "namespace": template.namespace, "name": template.name, "version": template.version,
        "request_body": '{"context": {"even_number": 2}}', "initiator": None, "source_system": None, "reason": None,
        "tags": Jsonb([]), "priority": 0, "idempotency_key": None, "instance": "tester", "queue": template.queue,
        "steps": template.steps_json,
    }  # fmt: skip
    conn.execute(queue_query("create_task", template.queue), params)
    return task_uuid


def step_row(conn: psycopg.Connection[Any], task_uuid: uuid.UUID, name: str) -> tuple[uuid.UUID, str, int]:
    row = conn.execute(
        "SELECT step_uuid, state, attempts FROM tasker.steps WHERE task_uuid = %s AND name = %s", (task_uuid, name)
    ).fetchone()
    assert row is not None
    return row


def walk(conn: psycopg.Connection[Any], step_uuid: uuid.UUID, states: tuple[str, ...]) -> None:
    for state in states:
        conn.execute(
            "UPDATE tasker.steps SET state = %(state)s,"
            " attempts = attempts + CASE WHEN %(state)s = 'in_progress' THEN 1 ELSE 0 END WHERE step_uuid = %(step)s",
            {"state": state, "step": step_uuid},
        )


def second_step_in(conn: psycopg.Connection[Any], template: TaskTemplate, state: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A task whose second step (pending at creation) was walked to `state`, the first one completed."""
    task_uuid = create_task(conn, template)
    first, _, _ = step_row(conn, task_uuid, "square_even_number")
    walk(conn, first, ("in_progress", "complete"))
    conn.execute(sql.SQL("DELETE FROM pgmq.{}").format(sql.Identifier(f"q_{QUEUE}")))
    second, _, _ = step_row(conn, task_uuid, "square_2")
    walk(conn, second, PATH_FROM_PENDING[state])
    return task_uuid, second


def state_of(conn: psycopg.Connection[Any], step_uuid: uuid.UUID) -> tuple[str, int]:
    row = conn.execute("SELECT state, attempts FROM tasker.steps WHERE step_uuid = %s", (step_uuid,)).fetchone()
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pair
        for pair in itertools.product(STEP_STATES, STEP_STATES)
        if pair not in ALLOWED_STEP_CHANGES and pair[0] != pair[1]
    ],
)
def test_the_database_refuses_every_step_change_the_state_machine_forbids(
    conn: psycopg.Connection[Any], linear: TaskTemplate, source: str, target: str
) -> None:
    _, step = second_step_in(conn, linear, source)
    with pytest.raises(pg_errors.CheckViolation, match="illegal step transition"):
        conn.execute("UPDATE tasker.steps SET state = %s WHERE step_uuid = %s", (target, step))
    assert state_of(conn, step)[0] == source


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pair
        for pair in itertools.product(TASK_STATUSES[1:], TASK_STATUSES)
        if pair not in ALLOWED_TASK_CHANGES and pair[0] != pair[1]
    ],
)
def test_the_database_refuses_every_task_change_the_state_machine_forbids(
    conn: psycopg.Connection[Any], linear: TaskTemplate, source: str, target: str
) -> None:
    task_uuid = create_task(conn, linear)
    if source != "steps_in_process":
        conn.execute("UPDATE tasker.tasks SET status = %s WHERE task_uuid = %s", (source, task_uuid))
    with pytest.raises(pg_errors.CheckViolation, match="illegal task transition"):
        conn.execute("UPDATE tasker.tasks SET status = %s WHERE task_uuid = %s", (target, task_uuid))


def test_a_claim_that_skips_an_attempt_number_is_refused(conn: psycopg.Connection[Any], linear: TaskTemplate) -> None:
    _, step = second_step_in(conn, linear, "enqueued")
    with pytest.raises(pg_errors.CheckViolation, match="must start attempt 1"):
        conn.execute("UPDATE tasker.steps SET state = 'in_progress', attempts = 2 WHERE step_uuid = %s", (step,))


def test_the_same_attempt_cannot_be_claimed_twice(conn: psycopg.Connection[Any], linear: TaskTemplate) -> None:
    task_uuid, step = second_step_in(conn, linear, "in_progress")
    with pytest.raises(pg_errors.UniqueViolation):
        conn.execute(
            "INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state,"
            " instance) VALUES (%s, %s, 'square_2', 1, 'enqueued', 'in_progress', 'impostor')",
            (step, task_uuid),
        )


@pytest.mark.parametrize("state", STEP_STATES)
def test_a_claim_takes_only_an_enqueued_step_or_one_whose_worker_died(
    conn: psycopg.Connection[Any], linear: TaskTemplate, state: str
) -> None:
    task_uuid, step = second_step_in(conn, linear, state)
    before = state_of(conn, step)
    conn.execute("SELECT pgmq.send(%s, %s)", (QUEUE, Jsonb({"task_uuid": str(task_uuid), "step_uuid": str(step)})))
    rows = conn.execute(queue_query("claim_steps", QUEUE), {"vt": 30, "qty": 10, "instance": "w-1"}).fetchall()
    assert len(rows) == 1
    claimed_step = rows[0][2]
    if state in ("enqueued", "in_progress"):
        assert claimed_step == step
        assert state_of(conn, step) == ("in_progress", before[1] + 1)
    else:
        assert claimed_step is None, "a message left behind must come back unclaimed, for deletion"
        assert state_of(conn, step) == before


@pytest.mark.parametrize("state", STEP_STATES)
def test_an_outcome_is_recorded_only_for_the_attempt_in_progress_and_any_other_is_refused_visibly(
    conn: psycopg.Connection[Any], linear: TaskTemplate, state: str
) -> None:
    _, step = second_step_in(conn, linear, state)
    before = state_of(conn, step)
    for attempt in {before[1], before[1] + 1}:
        outcomes = [{"step_uuid": str(step), "attempt": attempt, "state": "complete", "result": 16, "error": None}]
        row = conn.execute(
            queue_query("record_outcomes", QUEUE),
            {"outcomes": json.dumps(outcomes), "step_uuids": [str(step)], "stale_msg_ids": [], "queue": QUEUE},
        ).fetchone()
        assert row is not None
        recorded, refused = row[0], row[1]
        if state == "in_progress" and attempt == before[1]:
            assert (recorded, refused) == (1, 0)
            assert state_of(conn, step) == ("complete", before[1])
            return
        assert (recorded, refused) == (0, 1)
        assert state_of(conn, step) == before
        last = conn.execute(
            "SELECT attempt, from_state, to_state FROM tasker.step_transitions WHERE step_uuid = %s"
            " ORDER BY id DESC LIMIT 1",
            (step,),
        ).fetchone()
        assert last == (attempt, state, "refused"), "the refused late write is visible in the transitions"


@pytest.mark.parametrize("state", STEP_STATES)
def test_advancing_enqueues_only_a_pending_ready_step_or_one_waiting_for_a_retry(
    conn: psycopg.Connection[Any], linear: TaskTemplate, state: str
) -> None:
    task_uuid, step = second_step_in(conn, linear, state)
    before = state_of(conn, step)
    conn.execute(queue_query("advance_tasks", QUEUE), {"task_uuids": [task_uuid], "queue": QUEUE})
    after = state_of(conn, step)
    if state in ("pending", "waiting_for_retry"):
        assert after == ("enqueued", before[1])
    elif state == "error":
        assert after == before
        assert conn.execute("SELECT status FROM tasker.tasks WHERE task_uuid = %s", (task_uuid,)).fetchone() == (
            "error",
        )
    else:
        assert after == before


def test_a_finished_task_is_finalized_exactly_once(conn: psycopg.Connection[Any], linear: TaskTemplate) -> None:
    task_uuid = create_task(conn, linear)
    for position, name in enumerate(step.name for step in linear.steps):
        step, _, _ = step_row(conn, task_uuid, name)
        walk(conn, step, ("in_progress", "complete") if position == 0 else ("enqueued", "in_progress", "complete"))
    for _ in range(3):
        conn.execute(queue_query("advance_tasks", QUEUE), {"task_uuids": [task_uuid], "queue": QUEUE})
    history = conn.execute(
        "SELECT from_status, to_status FROM tasker.task_transitions WHERE task_uuid = %s ORDER BY id", (task_uuid,)
    ).fetchall()
    assert history == [(None, "pending"), ("pending", "steps_in_process"), ("steps_in_process", "complete")]


@pytest.mark.parametrize("status", ["complete", "error", "cancelled"])
def test_cancelling_a_finished_task_changes_nothing(
    conn: psycopg.Connection[Any], linear: TaskTemplate, status: str
) -> None:
    task_uuid = create_task(conn, linear)
    conn.execute("UPDATE tasker.tasks SET status = %s WHERE task_uuid = %s", (status, task_uuid))
    assert conn.execute(query("cancel_task"), {"task_uuid": task_uuid}).fetchone() == (False, status)


@pytest.mark.parametrize("state", STEP_STATES)
def test_cancelling_open_steps_cancels_running_ones_too_and_leaves_finished_ones_alone(
    conn: psycopg.Connection[Any], linear: TaskTemplate, state: str
) -> None:
    task_uuid, step = second_step_in(conn, linear, state)
    before = state_of(conn, step)
    conn.execute(query("cancel_open_steps"), {"task_uuids": [task_uuid]})
    expected = "cancelled" if state in ("pending", "enqueued", "in_progress", "waiting_for_retry") else state
    assert state_of(conn, step) == (expected, before[1])
