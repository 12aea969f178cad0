"""Creating tasks while faults strike: each creation accepted, or refused once the harness's retries ran out."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import anyio

from tasker_cluster.testing import CreatedTask, HarnessError, MultiInstanceTestManager, TaskApiError, TaskRequest


def keyed(requests: Sequence[TaskRequest]) -> list[TaskRequest]:
    """The requests with their idempotency keys chosen here, so that one refused now can be sent again unchanged."""
    return [request.model_copy(update={"idempotency_key": str(uuid.uuid4())}) for request in requests]


async def create_each(
    manager: MultiInstanceTestManager, requests: Sequence[TaskRequest], concurrency: int
) -> list[CreatedTask | str]:
    """For each request in order, its task, or why the harness gave up on it (503s or no connection, every
    attempt). Any other answer (a 4xx, a 500) fails the scenario."""
    limiter = anyio.CapacityLimiter(concurrency)
    outcomes: list[CreatedTask | str] = ["never sent"] * len(requests)

    async def create(index: int) -> None:
        async with limiter:
            try:
                outcomes[index] = await manager.create_task(requests[index])
            except TaskApiError:
                raise
            except HarnessError as error:
                outcomes[index] = error.message

    async with anyio.create_task_group() as group:
        for index in range(len(requests)):
            group.start_soon(create, index)
    return outcomes
