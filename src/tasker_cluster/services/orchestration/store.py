"""Tasks in the database, as the HTTP API needs them: create, read, list, cancel. Views are JSON text from SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, get_args

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.database import retry_transaction
from tasker_cluster.services.common.queries import query, queue_query
from tasker_cluster.services.common.wake_sender import WakeSender
from tasker_cluster.services.common.wakeup import wake_consumers
from tasker_cluster.services.orchestration.task_request import CreateTaskRequest
from tasker_cluster.services.orchestration.task_views import TaskStatus
from tasker_cluster.services.workflow.templates import TaskTemplate

TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)

CancelOutcome = Literal["cancelled", "not_found", "already_finished"]


@dataclass(frozen=True)
class Creation:
    """What POST /v1/tasks did: created a task, replayed the one its idempotency key created for the same request,
    or refused because that key's task was created from a request that differs (in the fields `differs` names)."""

    task_uuid: str
    view: str | None
    created: bool
    differs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cancellation:
    outcome: CancelOutcome
    status: str | None
    view: str | None


class TaskStore:
    def __init__(self, pool: AsyncConnectionPool, instance: str, waker: WakeSender) -> None:
        self.pool = pool
        self.instance = instance
        self.waker = waker

    async def create(self, request: CreateTaskRequest, request_body: str, template: TaskTemplate) -> Creation:
        """Create the task `request` asks for; `request_body` is the text it was parsed from, whose context is
        stored as sent. With an idempotency key used before, nothing is created: see Creation."""
        task_uuid = uuid.uuid4()
        params = {
            "task_uuid": task_uuid,
            "namespace": template.namespace,
            "name": template.name,
            "version": template.version,
            "request_body": request_body,
            "initiator": request.initiator,
            "source_system": request.source_system,
            "reason": request.reason,
            "tags": Jsonb(request.tags),
            "priority": request.priority,
            "idempotency_key": request.idempotency_key,
            "instance": self.instance,
            "queue": template.queue,
            "steps": template.steps_json,
        }

        async def insert() -> str | None:
            # One round trip: create (one statement, so one transaction), read back, and ring the workers if their
            # wake-up is due. When the idempotency key was used before, nothing is created and the read finds
            # nothing (a wake-up then rings in vain).
            ring_now = self.waker.take_due([template.queue])
            async with self.pool.connection() as conn, conn.pipeline():
                await conn.execute(queue_query("create_task", template.queue), params)
                view = await conn.execute(query("get_task"), {"task_uuid": task_uuid})
                await wake_consumers(conn, ring_now, [""] * len(ring_now))
            row = await view.fetchone()
            if row is None:
                return None
            if not ring_now:
                self.waker.defer([template.queue])
            return str(row[0])

        view = await retry_transaction(insert, "create task")
        if view is not None:
            return Creation(str(task_uuid), view, created=True)
        # ON CONFLICT waited for the key's first task to commit, so it is visible to this next statement.
        return await self._replay(params)

    async def _replay(self, params: dict[str, Any]) -> Creation:
        async def find() -> Creation:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(query("find_task_by_idempotency_key"), params)
                row = await cursor.fetchone()
                if row is None:
                    raise RuntimeError(f"idempotency key {params['idempotency_key']!r} conflicted but names no task")
                task_uuid, differs = row
                if differs:
                    return Creation(str(task_uuid), None, created=False, differs=tuple(differs))
                return Creation(str(task_uuid), await self._view(conn, task_uuid), created=False)

        return await retry_transaction(find, "find task")

    async def get(self, task_uuid: uuid.UUID) -> str | None:
        async def read() -> str | None:
            async with self.pool.connection() as conn:
                return await self._view(conn, task_uuid)

        return await retry_transaction(read, "read task")

    async def list(self, *, status: str | None, namespace: str | None, limit: int, offset: int) -> str:
        params = {"status": status, "namespace": namespace, "limit": limit, "offset": offset}

        async def read() -> str:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(query("list_tasks"), params)
                row = await cursor.fetchone()
            assert row is not None
            return str(row[0])

        return await retry_transaction(read, "list tasks")

    async def cancel(self, task_uuid: uuid.UUID) -> Cancellation:
        async def cancel_in_transaction() -> Cancellation:
            async with self.pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(query("cancel_task"), {"task_uuid": task_uuid})
                row = await cursor.fetchone()
                if row is None:
                    return Cancellation("not_found", None, None)
                cancelled_now, previous_status = row
                if not cancelled_now:
                    return Cancellation("already_finished", previous_status, await self._view(conn, task_uuid))
                await conn.execute(query("cancel_open_steps"), {"task_uuids": [task_uuid]})
                return Cancellation("cancelled", "cancelled", await self._view(conn, task_uuid))

        return await retry_transaction(cancel_in_transaction, "cancel task")

    @staticmethod
    async def _view(conn: AsyncConnection[Any], task_uuid: uuid.UUID) -> str | None:
        cursor = await conn.execute(query("get_task"), {"task_uuid": task_uuid})
        row = await cursor.fetchone()
        return None if row is None else str(row[0])
