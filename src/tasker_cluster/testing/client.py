"""An HTTP client for one orchestration instance: one keep-alive connection pool per instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tasker_cluster.testing.errors import TaskApiError
from tasker_cluster.testing.models import Task, TaskRequest
from tasker_cluster.testing.retry import retry_after_seconds


@dataclass(frozen=True)
class Probe:
    """One health or readiness request: what came back, or why nothing did."""

    url: str
    ok: bool
    status_code: int | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.status_code is None:
            return f"{self.url}: no answer ({self.detail})"
        return f"{self.url}: HTTP {self.status_code} {self.detail}".rstrip()


class ServiceClient:
    """Health and readiness of one instance over a keep-alive connection pool (workers have no more than this)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    async def health(self, timeout: float | None = None) -> Probe:
        return await self._probe("/health", timeout)

    async def ready(self, timeout: float | None = None) -> Probe:
        return await self._probe("/health/ready", timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _probe(self, path: str, timeout: float | None) -> Probe:
        url = f"{self.url}{path}"
        try:
            response = await self._http.get(path, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as error:
            return Probe(url, ok=False, detail=type(error).__name__)
        return Probe(url, ok=response.status_code == 200, status_code=response.status_code, detail=response.text[:200])


class OrchestrationClient(ServiceClient):
    """`/v1/tasks` of one orchestration instance. Raises TaskApiError for unexpected statuses and lets httpx's
    transport errors through, so callers can tell "the server said no" from "the server was not there"."""

    async def create_task(self, request: TaskRequest) -> tuple[Task, bool]:
        """The created task, and whether the server replayed an earlier creation with the same idempotency key."""
        response = await self._http.post("/v1/tasks", json=request.body())
        self._expect(response, 200, 201)
        return Task.model_validate(response.json()), response.status_code == 200

    async def get_task(self, task_uuid: str) -> Task:
        response = await self._http.get(f"/v1/tasks/{task_uuid}")
        self._expect(response, 200)
        return Task.model_validate(response.json())

    async def cancel_task(self, task_uuid: str) -> Task:
        response = await self._http.delete(f"/v1/tasks/{task_uuid}")
        self._expect(response, 200)
        return Task.model_validate(response.json())

    async def list_tasks(self, **filters: str | int) -> list[Task]:
        response = await self._http.get("/v1/tasks", params=filters)
        self._expect(response, 200)
        payload: Any = response.json()
        items = payload.get("tasks", []) if isinstance(payload, dict) else payload
        return [Task.model_validate(item) for item in items]

    def _expect(self, response: httpx.Response, *statuses: int) -> None:
        if response.status_code not in statuses:
            raise TaskApiError(
                response.request.method,
                str(response.url),
                response.status_code,
                response.text,
                retry_after=retry_after_seconds(response),
            )
