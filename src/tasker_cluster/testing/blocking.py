"""A synchronous face for the async manager, for tests that are simpler without `async def`.

The manager's HTTP clients live on one event loop running in a background thread (an anyio blocking portal) for
as long as the wrapper is open, so keep-alive connections are reused across calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from tasker_cluster.testing.cluster import OrchestrationCluster
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.manager import MultiInstanceTestManager, ServedRequest
from tasker_cluster.testing.models import CreatedTask, Task, TaskRequest
from tasker_cluster.testing.retry import RetryLog

T = TypeVar("T")


class BlockingManager:
    """The same methods as MultiInstanceTestManager, as plain calls."""

    def __init__(self, portal: BlockingPortal, manager: MultiInstanceTestManager) -> None:
        self._portal = portal
        self.manager = manager

    @classmethod
    @contextmanager
    def open(cls, config: ClusterConfig, **options: object) -> Iterator[BlockingManager]:
        with start_blocking_portal() as portal:
            manager = MultiInstanceTestManager.from_config(config, **options)
            try:
                yield cls(portal, manager)
            finally:
                portal.call(manager.aclose)

    @property
    def cluster(self) -> OrchestrationCluster:
        """The async cluster, for use inside `call`."""
        return self.manager.cluster

    @property
    def served(self) -> list[ServedRequest]:
        return self.manager.served

    @property
    def retries(self) -> RetryLog:
        return self.manager.retries

    @property
    def marker(self) -> str | None:
        return self.manager.marker

    def call(self, function: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run any coroutine function on the manager's event loop, e.g. `call(cluster.fetch_from_all, uuid)`."""
        return self._portal.call(function, *args)

    def submit(self, function: Callable[..., Awaitable[T]], *args: object) -> Future[T]:
        """Start a coroutine function on the manager's loop and return at once, e.g. a burst of creations to
        interrupt with a fault: `future = manager.submit(manager.manager.create_tasks_concurrent, requests)`."""
        return self._portal.start_task_soon(function, *args)

    def orchestration_count(self) -> int:
        return self.manager.orchestration_count()

    def worker_count(self) -> int:
        return self.manager.worker_count()

    def served_by_instance(self) -> Counter[str]:
        return self.manager.served_by_instance()

    def wait_for_healthy(self, timeout: float = 30.0) -> None:
        self._portal.call(self.manager.wait_for_healthy, timeout)

    def create_task(self, request: TaskRequest) -> CreatedTask:
        return self._portal.call(self.manager.create_task, request)

    def create_tasks_concurrent(
        self, requests: Sequence[TaskRequest], concurrency: int | None = None
    ) -> list[CreatedTask]:
        return self._portal.call(partial(self.manager.create_tasks_concurrent, requests, concurrency))

    def get_task(self, task_uuid: str) -> Task:
        return self._portal.call(self.manager.get_task, task_uuid)

    def cancel_task(self, task_uuid: str) -> Task:
        return self._portal.call(self.manager.cancel_task, task_uuid)

    def wait_for_task_completion(self, task_uuid: str, timeout: float = 30.0) -> Task:
        return self._portal.call(self.manager.wait_for_task_completion, task_uuid, timeout)

    def wait_for_tasks_completion(self, task_uuids: Sequence[str], timeout: float = 60.0) -> list[Task]:
        return self._portal.call(self.manager.wait_for_tasks_completion, task_uuids, timeout)

    def verify_task_consistency(self, task_uuid: str, only: set[str] | None = None) -> Task:
        return self._portal.call(partial(self.manager.verify_task_consistency, task_uuid, only))
