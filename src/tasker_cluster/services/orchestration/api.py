"""The orchestration's HTTP API: /v1/tasks and /v1/templates. Task bodies are JSON text made by the database."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tasker_cluster.services.common.metrics import TASKS_CREATED
from tasker_cluster.services.orchestration.store import TASK_STATUSES, TaskStore
from tasker_cluster.services.orchestration.task_request import CreateTaskRequest
from tasker_cluster.services.workflow.templates import TemplateCatalog

log = logging.getLogger("tasker.api")

_MAX_PAGE = 500
_JSON = "application/json"


def _error(status_code: int, message: str, fix: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "fix": fix, **extra}, status_code=status_code)


def _task_uuid(request: Request) -> uuid.UUID | JSONResponse:
    raw = request.path_params["task_uuid"]
    try:
        return uuid.UUID(raw)
    except ValueError:
        return _error(422, f"{raw!r} is not a task UUID", "use the task_uuid returned by POST /v1/tasks")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int | JSONResponse:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        return _error(422, f"query parameter {name}={raw!r} is not valid", f"use an integer from {low} to {high}")
    return value


def task_routes(store: TaskStore, catalog: TemplateCatalog) -> list[BaseRoute]:
    async def create_task(request: Request) -> Response:
        try:
            body = CreateTaskRequest.model_validate_json(await request.body())
        except ValidationError as error:
            details = error.errors(include_url=False, include_context=False, include_input=False)
            return _error(422, "the task request is not valid", "correct the fields listed in details", details=details)
        template = catalog.find(body.namespace, body.name, body.version)
        if template is None:
            wanted = f"{body.namespace}/{body.name}" + (f"/{body.version}" if body.version else "")
            return _error(404, f"no task template {wanted}", "GET /v1/templates lists the templates")
        view, created = await store.create(body, template)
        if created:
            TASKS_CREATED.labels(template.namespace, template.name).inc()
        return Response(view, status_code=201 if created else 200, media_type=_JSON)

    async def get_task(request: Request) -> Response:
        task_uuid = _task_uuid(request)
        if isinstance(task_uuid, Response):
            return task_uuid
        view = await store.get(task_uuid)
        if view is None:
            return _error(404, f"no task {task_uuid}", "check the task_uuid")
        return Response(view, media_type=_JSON)

    async def list_tasks(request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in TASK_STATUSES:
            return _error(422, f"status {status!r} is not a task status", f"use one of {', '.join(TASK_STATUSES)}")
        limit = _int_param(request, "limit", 50, 1, _MAX_PAGE)
        if isinstance(limit, Response):
            return limit
        offset = _int_param(request, "offset", 0, 0, 10**9)
        if isinstance(offset, Response):
            return offset
        namespace = request.query_params.get("namespace") or None
        if namespace is not None and "\x00" in namespace:
            return _error(422, "the namespace filter contains a NUL character", "remove it from the query")
        page = await store.list(status=status, namespace=namespace, limit=limit, offset=offset)
        return Response(page, media_type=_JSON)

    async def cancel_task(request: Request) -> Response:
        task_uuid = _task_uuid(request)
        if isinstance(task_uuid, Response):
            return task_uuid
        cancellation = await store.cancel(task_uuid)
        if cancellation.outcome == "not_found":
            return _error(404, f"no task {task_uuid}", "check the task_uuid")
        if cancellation.outcome == "already_finished":
            return _error(
                409,
                f"task {task_uuid} is already {cancellation.status}",
                "only unfinished tasks can be cancelled",
                status=cancellation.status,
            )
        log.info("task %s -> cancelled", task_uuid)
        return Response(cancellation.view, media_type=_JSON)

    async def list_templates(request: Request) -> JSONResponse:
        return JSONResponse({"templates": [template.summary() for template in catalog.templates]})

    return [
        Route("/v1/tasks", create_task, methods=["POST"]),
        Route("/v1/tasks", list_tasks, methods=["GET"]),
        Route("/v1/tasks/{task_uuid}", get_task, methods=["GET"]),
        Route("/v1/tasks/{task_uuid}", cancel_task, methods=["DELETE"]),
        Route("/v1/templates", list_templates, methods=["GET"]),
    ]
