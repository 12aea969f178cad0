"""Creating tasks while faults strike: every creation either accepted or refused after the harness's retries."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from tasker_cluster.testing import CreatedTask, HarnessError, MultiInstanceTestManager, TaskApiError, TaskRequest


async def create_each(
    manager: MultiInstanceTestManager, requests: Sequence[TaskRequest], concurrency: int
) -> tuple[list[CreatedTask], list[str]]:
    """(accepted tasks, why each refused one was refused). A refusal is the harness giving up after its retries
    (503s, no connection); any other answer (a 4xx, a 500) fails the scenario."""
    limiter = anyio.CapacityLimiter(concurrency)
    accepted: list[CreatedTask] = []
    refused: list[str] = []

    async def create(request: TaskRequest) -> None:
        async with limiter:
            try:
                accepted.append(await manager.create_task(request))
            except TaskApiError:
                raise
            except HarnessError as error:
                refused.append(error.message)

    async with anyio.create_task_group() as group:
        for request in requests:
            group.start_soon(create, request)
    return accepted, refused
