"""The harness's terminal task states are exactly the states the services' model never leaves."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tasker_cluster.services.common.migrations import apply_migrations
from tasker_cluster.services.orchestration.store import TASK_STATUSES
from tasker_cluster.testing import TERMINAL_TASK_STATES

pytestmark = pytest.mark.messaging


def _can_leave(conn: psycopg.Connection, state: str) -> bool:
    """Whether the schema's transition guard lets a task in `state` move to any other state."""
    task_uuid = uuid.uuid4()
    conn.execute(
        "INSERT INTO tasker.tasks (task_uuid, namespace, name, version, status, context, created_by) "
        "VALUES (%s, 'examples', 'linear', '1.0.0', 'pending', '{}', 'test')",
        (task_uuid,),
    )
    # With its triggers off (the table's owner may do that; replica mode would need a superuser), the guard lets
    # the task go straight into `state`.
    conn.execute("ALTER TABLE tasker.tasks DISABLE TRIGGER USER")
    conn.execute("UPDATE tasker.tasks SET status = %s WHERE task_uuid = %s", (state, task_uuid))
    conn.execute("ALTER TABLE tasker.tasks ENABLE TRIGGER USER")
    for target in TASK_STATUSES:
        if target == state:
            continue
        try:
            with conn.transaction():
                conn.execute("UPDATE tasker.tasks SET status = %s WHERE task_uuid = %s", (target, task_uuid))
        except psycopg.errors.CheckViolation:
            continue
        return True
    return False


def test_terminal_states_are_the_states_the_schema_never_leaves(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn)
        never_left = {state for state in TASK_STATUSES if not _can_leave(conn, state)}
    assert never_left == TERMINAL_TASK_STATES
