"""An HTTP client for one orchestration instance: one keep-alive connection pool per instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tasker_cluster.testing.errors import IdempotencyKeyReusedError, TaskApiError
from tasker_cluster.testing.models import Task, TaskRequest
from tasker_cluster.testing.retry import retry_after_seconds


@dataclass(frozen=True)
class Call:
    """A request the client makes, as the services' /openapi.json names it, and the statuses it takes as success
    (tests/testing/test_client_contract.py checks every one against the document)."""

    operation_id: str
    method: str
    path: str
    success: tuple[int, ...]


HEALTH = Call("health", "GET", "/health", (200,))
READY = Call("ready", "GET", "/health/ready", (200,))
CREATE_TASK = Call("createTask", "POST", "/v1/tasks", (200, 201))
GET_TASK = Call("getTask", "GET", "/v1/tasks/{task_uuid}", (200,))
CANCEL_TASK = Call("cancelTask", "DELETE", "/v1/tasks/{task_uuid}", (200,))
LIST_TASKS = Call("listTasks", "GET", "/v1/tasks", (200,))
CALLS = (HEALTH, READY, CREATE_TASK, GET_TASK, CANCEL_TASK, LIST_TASKS)


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
        return await self._probe(HEALTH.path, timeout)

    async def ready(self, timeout: float | None = None) -> Probe:
        return await self._probe(READY.path, timeout)

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
        """The created task, and whether the server replayed an earlier creation with the same idempotency key.

        Raises IdempotencyKeyReusedError when the key was used for a different request: never the other task."""
        response = await self._http.post(CREATE_TASK.path, json=request.body())
        self._expect(response, CREATE_TASK)
        return Task.model_validate(response.json()), response.status_code == 200

    async def get_task(self, task_uuid: str) -> Task:
        response = await self._http.get(GET_TASK.path.format(task_uuid=task_uuid))
        self._expect(response, GET_TASK)
        return Task.model_validate(response.json())

    async def cancel_task(self, task_uuid: str) -> Task:
        response = await self._http.delete(CANCEL_TASK.path.format(task_uuid=task_uuid))
        self._expect(response, CANCEL_TASK)
        return Task.model_validate(response.json())

    async def list_tasks(self, **filters: str | int) -> list[Task]:
        response = await self._http.get(LIST_TASKS.path, params=filters)
        self._expect(response, LIST_TASKS)
        payload: Any = response.json()
        items = payload.get("tasks", []) if isinstance(payload, dict) else payload
        return [Task.model_validate(item) for item in items]

    def _expect(self, response: httpx.Response, call: Call) -> None:
        if response.status_code in call.success:
            return
        problem = _problem(response)
        error = IdempotencyKeyReusedError if "idempotency_key" in problem else TaskApiError
        raise error(
            response.request.method,
            str(response.url),
            response.status_code,
            response.text,
            retry_after=retry_after_seconds(response),
            problem=problem,
        )


def _problem(response: httpx.Response) -> dict[str, Any]:
    """The `{"error", "fix", ...}` body the services refuse with, or {} for any other body."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) and "error" in body else {}
