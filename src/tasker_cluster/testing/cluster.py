"""OrchestrationCluster: the orchestration instances of one cluster behind a load-balancing strategy."""

from __future__ import annotations

from functools import partial
from types import TracebackType
from typing import Self

import anyio
import httpx

from tasker_cluster.testing.client import OrchestrationClient, Probe, ServiceClient
from tasker_cluster.testing.concurrency import gather
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.consistency import compare_tasks, describe_differences
from tasker_cluster.testing.errors import ClusterNotHealthyError, InconsistentTaskError
from tasker_cluster.testing.models import Task
from tasker_cluster.words import counted

_FIRST_PROBE_PAUSE = 0.02


class OrchestrationCluster:
    """One keep-alive client per orchestration instance, plus health clients for the workers.

    Use as `async with OrchestrationCluster(config) as cluster:`; the clients belong to the event loop they are
    first used in.
    """

    def __init__(self, config: ClusterConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._clients = [
            OrchestrationClient(url, timeout=config.request_timeout, transport=transport)
            for url in config.orchestration_urls
        ]
        self._workers = [
            ServiceClient(url, timeout=config.request_timeout, transport=transport) for url in config.worker_urls
        ]
        self._up = [True] * len(self._clients)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in (*self._clients, *self._workers):
            await client.aclose()

    def instance_count(self) -> int:
        return len(self._clients)

    def urls(self) -> list[str]:
        return [client.url for client in self._clients]

    def client(self, index: int) -> OrchestrationClient:
        return self._clients[index]

    def all_clients(self) -> list[OrchestrationClient]:
        return list(self._clients)

    def get_client(self) -> OrchestrationClient:
        return self._clients[self.pick()]

    def pick(self) -> int:
        """Index of the next instance by the configured strategy, passing over instances marked down."""
        return self.config.load_balancing.choose(self._up)

    def mark_down(self, index: int) -> None:
        """Pass over this instance until a health probe finds it ready again."""
        self._up[index] = False

    def is_up(self, index: int) -> bool:
        return self._up[index]

    async def probe_all(self, timeout: float | None = None) -> list[Probe]:
        """Readiness of every instance (orchestration first, then workers), concurrently; refreshes up/down."""
        clients: list[ServiceClient] = [*self._clients, *self._workers]
        probes = await gather([partial(client.ready, timeout or self.config.health_timeout) for client in clients])
        self._up = [probe.ok for probe in probes[: len(self._clients)]]
        return probes

    async def wait_for_healthy(self, timeout: float | None = None) -> None:
        """Until every instance answers its readiness path with 200, under one deadline for all of them."""
        deadline = anyio.current_time() + (timeout if timeout is not None else self.config.health_timeout)
        clients: list[ServiceClient] = [*self._clients, *self._workers]
        last: dict[int, Probe] = {}

        async def until_ready(index: int) -> None:
            pause = _FIRST_PROBE_PAUSE
            while True:
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    return
                last[index] = await clients[index].ready(min(remaining, self.config.health_timeout))
                if last[index].ok:
                    return
                await anyio.sleep(min(pause, max(deadline - anyio.current_time(), 0)))
                pause = min(pause * 2, self.config.health_retry_interval)

        async with anyio.create_task_group() as group:
            for index in range(len(clients)):
                group.start_soon(until_ready, index)
        failed = [last.get(index) for index in range(len(clients)) if index not in last or not last[index].ok]
        self._up = [index in last and last[index].ok for index in range(len(self._clients))]
        if failed:
            described = "; ".join(probe.describe() if probe else "never probed" for probe in failed)
            raise ClusterNotHealthyError(
                f"{len(failed)} of {counted(len(clients), 'instance')} not ready after the deadline: {described}",
                "check `cluster status` and the instances' logs (`cluster logs NAME`)",
            )

    async def fetch_from_all(self, task_uuid: str) -> dict[str, Task]:
        """The task as every orchestration instance returns it, fetched concurrently, keyed by instance URL."""
        tasks = await gather([partial(client.get_task, task_uuid) for client in self._clients])
        return {client.url: task for client, task in zip(self._clients, tasks, strict=True)}

    async def verify_task_consistency(self, task_uuid: str, only: set[str] | None = None) -> Task:
        """The task, after checking every instance returns the same status, steps and results.

        `only` narrows the comparison to some fields (e.g. CREATION_FIELDS for a task still running). Raises
        InconsistentTaskError naming the instances and fields that differ.
        """
        views = await self.fetch_from_all(task_uuid)
        differences = compare_tasks(views, only=only)
        if differences:
            raise InconsistentTaskError(describe_differences(task_uuid, differences))
        return next(iter(views.values()))
