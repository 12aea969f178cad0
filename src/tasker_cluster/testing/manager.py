"""MultiInstanceTestManager: create, watch and cross-check tasks on a multi-instance cluster."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

import anyio

from tasker_cluster.project import Project
from tasker_cluster.testing.cluster import OrchestrationCluster
from tasker_cluster.testing.concurrency import gather
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.errors import HarnessError, TaskApiError, TaskTimeoutError
from tasker_cluster.testing.models import CreatedTask, Task, TaskRequest
from tasker_cluster.testing.retry import (
    READ_RETRYABLE_STATUSES,
    RETRYABLE_STATUS,
    RetryLog,
    RetryPolicy,
    is_connection_error,
    is_transient_error,
)
from tasker_cluster.words import counted

# Tasks finish roughly in creation order, so once this many pending tasks in a row are still running, the rest of
# the round is skipped: a 500-task wait costs about one GET per task plus a few per round, not 500 per round.
_POLL_LOOKAHEAD = 8
_FIRST_POLL_PAUSE = 0.05


@dataclass(frozen=True)
class ServedRequest:
    """Which instance served one task creation: the URL it was sent to, and the name the server recorded."""

    task_uuid: str
    sent_to: str
    created_by: str | None
    attempts: int
    replayed: bool


class MultiInstanceTestManager:
    """The seed's test manager, fixed where it fell short: retries are safe (idempotency keys), waits survive a
    transient error, consistency compares whole tasks, and distribution is read from what the servers recorded."""

    def __init__(
        self,
        cluster: OrchestrationCluster,
        *,
        retry: RetryPolicy | None = None,
        concurrency: int = 16,
        poll_interval_max: float = 0.5,
        marker: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`marker`: a tag added to every task this manager creates, so that a test can count in the database the
        tasks it caused, a duplicate made under another idempotency key included."""
        self.cluster = cluster
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.poll_interval_max = poll_interval_max
        self.marker = marker
        self.served: list[ServedRequest] = []
        self.retries = RetryLog()
        self._on_close = on_close

    @classmethod
    def from_config(cls, config: ClusterConfig, **options: object) -> MultiInstanceTestManager:
        return cls(OrchestrationCluster(config), **options)  # type: ignore[arg-type]

    @classmethod
    async def setup_from_env(cls, env_file: Path | None = None, **options: object) -> MultiInstanceTestManager:
        """A manager on the cluster named by TASKER_TEST_ORCHESTRATION_URLS / TASKER_TEST_WORKER_URLS."""
        return cls.from_config(ClusterConfig.from_env(env_file), **options)

    @classmethod
    async def setup(
        cls,
        orchestration_count: int = 2,
        worker_count: int = 2,
        *,
        project: Project | None = None,
        timeout: float = 60.0,
        **options: object,
    ) -> MultiInstanceTestManager:
        """Start a throwaway cluster of `project`'s topology (default: the project around the current folder) with
        these counts, on its own folder, ports and database, from a clean environment, with the `cluster` command;
        `aclose()` stops it and removes it all."""
        from tasker_cluster.testing.provision import source_project, start_throwaway_cluster

        started = await anyio.to_thread.run_sync(
            partial(
                start_throwaway_cluster,
                project or source_project(Path.cwd()),
                orchestration=orchestration_count,
                workers=worker_count,
                timeout=timeout,
            )
        )
        try:
            manager = cls.from_config(started.config, **options)
            await manager.wait_for_healthy(timeout)
        except BaseException:
            await anyio.to_thread.run_sync(started.shutdown)
            raise
        manager._on_close = partial(anyio.to_thread.run_sync, started.shutdown)
        return manager

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self.cluster.aclose()
        finally:
            if self._on_close is not None:
                await self._on_close()

    def orchestration_count(self) -> int:
        return self.cluster.instance_count()

    def worker_count(self) -> int:
        return len(self.cluster.config.worker_urls)

    def served_by_instance(self) -> Counter[str]:
        """Task creations per instance name, as the servers recorded them (`created_by`)."""
        return Counter(record.created_by or "<unrecorded>" for record in self.served)

    async def wait_for_healthy(self, timeout: float = 30.0) -> None:
        await self.cluster.wait_for_healthy(timeout)

    async def create_task(self, request: TaskRequest) -> CreatedTask:
        """Create one task on the next instance. Connection errors, timeouts and 503 are retried, on another instance
        when one is up, with the same idempotency key, so a retry returns the task an earlier attempt created."""
        if request.idempotency_key is None:
            request = request.model_copy(update={"idempotency_key": str(uuid.uuid4())})
        if self.marker is not None and self.marker not in (request.tags or []):
            request = request.model_copy(update={"tags": [*(request.tags or []), self.marker]})
        key = request.idempotency_key or ""
        failures: list[str] = []
        for attempt in range(1, self.retry.max_attempts + 1):
            index = self.cluster.pick()
            client = self.cluster.client(index)
            retry_after: float | None = None
            try:
                task, replayed = await client.create_task(request)
            except TaskApiError as error:
                if error.status_code != RETRYABLE_STATUS:
                    raise
                failures.append(self._retried("create", client.url, "503"))
                retry_after = error.retry_after
            except Exception as error:
                # No connection, or no answer in time (a paused or hung instance): the idempotency key makes sending
                # it again safe, even if the first request is served late.
                if not is_transient_error(error):
                    raise
                self.cluster.mark_down(index)
                failures.append(self._retried("create", client.url, type(error).__name__))
            else:
                self.served.append(ServedRequest(task.task_uuid, client.url, task.created_by, attempt, replayed))
                return CreatedTask(
                    task=task, sent_to=client.url, attempts=attempt, idempotency_key=key, replayed=replayed
                )
            if attempt < self.retry.max_attempts:
                await anyio.sleep(self.retry.delay(attempt, retry_after))
        raise HarnessError(
            f"could not create task {request.namespace}/{request.name} after {self.retry.max_attempts} attempts: "
            + "; ".join(failures),
            "check `cluster status`: every orchestration instance refused or dropped the request",
        )

    async def create_tasks_concurrent(
        self, requests: Sequence[TaskRequest], concurrency: int | None = None
    ) -> list[CreatedTask]:
        """Create every task, round-robin over the instances, at most `concurrency` requests in flight; results in
        request order."""
        calls = [partial(self.create_task, request) for request in requests]
        return await gather(calls, limit=concurrency or self.concurrency)

    async def get_task(self, task_uuid: str) -> Task:
        """The task from the next instance; a transient failure (no connection, a timeout, 502/503/504) is retried."""
        last = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            fetched = await self._try_get(task_uuid)
            if isinstance(fetched, Task):
                return fetched
            last = fetched
            if attempt < self.retry.max_attempts:
                await anyio.sleep(self.retry.delay(attempt))
        raise HarnessError(f"could not read task {task_uuid}: {last}", "check `cluster status`")

    async def cancel_task(self, task_uuid: str) -> Task:
        return await self.cluster.get_client().cancel_task(task_uuid)

    async def wait_for_task_completion(self, task_uuid: str, timeout: float = 30.0) -> Task:
        return (await self.wait_for_tasks_completion([task_uuid], timeout))[0]

    async def wait_for_tasks_completion(self, task_uuids: Sequence[str], timeout: float = 60.0) -> list[Task]:
        """Every task once it is in a terminal state (complete, error, cancelled), in the order given.

        Polls with backoff under one deadline; a transient read error (no connection, a timeout, 502/503/504) is
        retried on the next round rather than failing the wait. Raises TaskTimeoutError naming the tasks still
        running."""
        deadline = anyio.current_time() + timeout
        finished: dict[str, Task] = {}
        last_seen: dict[str, str] = {}
        pause = _FIRST_POLL_PAUSE
        while True:
            await self._poll_round([u for u in task_uuids if u not in finished], finished, last_seen)
            pending = [u for u in task_uuids if u not in finished]
            if not pending:
                return [finished[u] for u in task_uuids]
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise _timeout_error(pending, last_seen, len(task_uuids), timeout)
            await anyio.sleep(min(pause, remaining))
            pause = min(pause * 2, self.poll_interval_max)

    async def verify_task_consistency(self, task_uuid: str, only: set[str] | None = None) -> Task:
        return await self.cluster.verify_task_consistency(task_uuid, only=only)

    async def _poll_round(self, pending: list[str], finished: dict[str, Task], last_seen: dict[str, str]) -> None:
        running_in_a_row = 0
        for start in range(0, len(pending), self.concurrency):
            batch = pending[start : start + self.concurrency]
            results = await gather([partial(self._try_get, u) for u in batch])
            for task_uuid, fetched in zip(batch, results, strict=True):
                if isinstance(fetched, str):
                    last_seen[task_uuid] = f"read failed: {fetched}"
                    continue
                last_seen[task_uuid] = fetched.status
                if fetched.is_terminal:
                    finished[task_uuid] = fetched
                    running_in_a_row = 0
                else:
                    running_in_a_row += 1
            if running_in_a_row >= _POLL_LOOKAHEAD:
                return

    async def _try_get(self, task_uuid: str) -> Task | str:
        """The task, or a description of a transient failure (retried by the caller); any other failure is raised."""
        index = self.cluster.pick()
        client = self.cluster.client(index)
        try:
            return await client.get_task(task_uuid)
        except TaskApiError as error:
            if error.status_code not in READ_RETRYABLE_STATUSES:
                raise
            return self._retried("read", client.url, str(error.status_code))
        except Exception as error:
            if not is_transient_error(error):
                raise
            if is_connection_error(error):
                self.cluster.mark_down(index)
            return self._retried("read", client.url, type(error).__name__)

    def _retried(self, kind: str, url: str, reason: str) -> str:
        """Log an attempt that failed the retryable way; its description, for error messages."""
        self.retries.record(kind, url, reason)
        return f"{url}: {reason}"


def new_marker(label: str) -> str:
    """A marker tag unique to one test run: `pytest:LABEL:8-hex`, readable in the database."""
    return f"pytest:{label[:80]}:{uuid.uuid4().hex[:8]}"


def _timeout_error(pending: list[str], last_seen: dict[str, str], total: int, timeout: float) -> TaskTimeoutError:
    shown = ", ".join(f"{u} ({last_seen.get(u, 'never read')})" for u in pending[:10])
    more = f" and {len(pending) - 10} more" if len(pending) > 10 else ""
    return TaskTimeoutError(
        f"{len(pending)} of {counted(total, 'task')} not in a terminal state after {timeout:g}s: {shown}{more}",
        "check the workers are running and reading their queues (`cluster status`, `cluster logs --workers`)",
    )
