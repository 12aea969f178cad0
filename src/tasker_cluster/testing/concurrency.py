"""Running many awaitables at once with a bound, keeping results in order and errors unwrapped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
import anyio.abc

T = TypeVar("T")


async def gather(calls: Sequence[Callable[[], Awaitable[T]]], limit: int | None = None) -> list[T]:
    """Results of `calls` in their order. The first failure cancels the rest and is raised as itself, not wrapped
    in an ExceptionGroup, so callers and pytest see the real error."""
    results: list[T | None] = [None] * len(calls)
    failures: list[BaseException] = []
    limiter = anyio.CapacityLimiter(limit) if limit else None

    async def run(index: int, group: anyio.abc.TaskGroup) -> None:
        try:
            if limiter is None:
                results[index] = await calls[index]()
            else:
                async with limiter:
                    results[index] = await calls[index]()
        except Exception as error:
            failures.append(error)
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index, group)
    if failures:
        raise failures[0]
    return results  # type: ignore[return-value]
