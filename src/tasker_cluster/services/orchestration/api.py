"""The orchestration's HTTP API: /v1/tasks and /v1/templates, declared as Operations (common/endpoints.py) so that
the same declarations validate requests and make /openapi.json. Task bodies are JSON text made by the database."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tasker_cluster.services.common.endpoints import Endpoint, Operation, Reply
from tasker_cluster.services.common.metrics import TASKS_CREATED
from tasker_cluster.services.common.problems import ApiError, ErrorBody
from tasker_cluster.services.common.request_body import MAX_NESTING_DEPTH
from tasker_cluster.services.orchestration.store import TaskStore
from tasker_cluster.services.orchestration.task_request import CreateTaskRequest
from tasker_cluster.services.orchestration.task_views import TaskListQuery, TaskPage, TaskPath, TaskView, TemplateList
from tasker_cluster.services.workflow.templates import TemplateCatalog

log = logging.getLogger("tasker.api")

_JSON = "application/json"

INVALID = Reply("The path, query or body is not valid (`details` lists each problem).", ErrorBody)
UNAVAILABLE = Reply(
    "The database is unavailable or every connection is busy: retry after `Retry-After` seconds.",
    ErrorBody,
    headers={"Retry-After": "Seconds to wait before retrying."},
)
NO_TASK = Reply("No task has this task_uuid.", ErrorBody)

CREATE_TASK = Operation(
    "POST",
    "/v1/tasks",
    "createTask",
    "Create a task from a template",
    description="Done exactly as sent or refused. The body is at most the instance's --max-body-bytes (default "
    f"1 MiB), UTF-8 JSON, each key once per object, its arrays and objects nested at most {MAX_NESTING_DEPTH} "
    "levels deep (the body's own object is the first).",
    body=CreateTaskRequest,
    replies={
        201: Reply("Created: the new task.", TaskView),
        200: Reply("The task this idempotency key created for the same request before; nothing new.", TaskView),
        400: Reply("The body is not UTF-8 JSON.", ErrorBody),
        404: Reply("No template has this namespace, name (and version).", ErrorBody),
        413: Reply("The body is larger than the instance accepts; do not retry it unchanged.", ErrorBody),
        422: Reply(
            "The body is not valid: a field (`details`), a key twice in one object, arrays and objects nested deeper "
            f"than {MAX_NESTING_DEPTH} levels, a value that cannot be stored exactly, or an idempotency key "
            "already used for a different request (`idempotency_key`, `task_uuid`, `differs`).",
            ErrorBody,
        ),
        503: UNAVAILABLE,
    },
)
LIST_TASKS = Operation(
    "GET",
    "/v1/tasks",
    "listTasks",
    "List tasks, newest first",
    query=TaskListQuery,
    replies={200: Reply("A page of tasks.", TaskPage), 422: INVALID, 503: UNAVAILABLE},
)
GET_TASK = Operation(
    "GET",
    "/v1/tasks/{task_uuid}",
    "getTask",
    "A task with its steps",
    path_params=TaskPath,
    replies={200: Reply("The task.", TaskView), 404: NO_TASK, 422: INVALID, 503: UNAVAILABLE},
)
CANCEL_TASK = Operation(
    "DELETE",
    "/v1/tasks/{task_uuid}",
    "cancelTask",
    "Cancel an unfinished task",
    path_params=TaskPath,
    replies={
        200: Reply(
            "Cancelled: the task, with every unfinished step cancelled, a running one included (its handler may run "
            "on, but its outcome is refused and never completes the step).",
            TaskView,
        ),
        404: NO_TASK,
        409: Reply("The task had already finished: `status` is the status it ended in.", ErrorBody),
        422: INVALID,
        503: UNAVAILABLE,
    },
)
LIST_TEMPLATES = Operation(
    "GET",
    "/v1/templates",
    "listTemplates",
    "The task templates this instance loaded",
    replies={200: Reply("Every template.", TemplateList)},
)
TASK_OPERATIONS = (CREATE_TASK, LIST_TASKS, GET_TASK, CANCEL_TASK, LIST_TEMPLATES)


def task_endpoints(store: TaskStore, catalog: TemplateCatalog) -> list[Endpoint]:
    async def create_task(request: Request, body: CreateTaskRequest, body_text: str) -> Response:
        template = catalog.find(body.namespace, body.name, body.version)
        if template is None:
            wanted = f"{body.namespace}/{body.name}" + (f"/{body.version}" if body.version else "")
            raise ApiError(404, f"no task template {wanted}", "GET /v1/templates lists the templates")
        creation = await store.create(body, body_text, template)
        if creation.differs:
            raise _key_reused(body.idempotency_key or "", creation.task_uuid, creation.differs)
        if creation.created:
            TASKS_CREATED.labels(template.namespace, template.name).inc()
        return Response(creation.view, status_code=201 if creation.created else 200, media_type=_JSON)

    async def get_task(request: Request, path: TaskPath) -> Response:
        view = await store.get(path.task_uuid)
        if view is None:
            raise ApiError(404, f"no task {path.task_uuid}", "check the task_uuid")
        return Response(view, media_type=_JSON)

    async def list_tasks(request: Request, query: TaskListQuery) -> Response:
        page = await store.list(status=query.status, namespace=query.namespace, limit=query.limit, offset=query.offset)
        return Response(page, media_type=_JSON)

    async def cancel_task(request: Request, path: TaskPath) -> Response:
        cancellation = await store.cancel(path.task_uuid)
        if cancellation.outcome == "not_found":
            raise ApiError(404, f"no task {path.task_uuid}", "check the task_uuid")
        if cancellation.outcome == "already_finished":
            raise ApiError(
                409,
                f"task {path.task_uuid} already finished: it is {cancellation.status}",
                "only a pending or steps_in_process task can be cancelled",
                status=cancellation.status,
            )
        log.info("task %s -> cancelled", path.task_uuid)
        return Response(cancellation.view, media_type=_JSON)

    async def list_templates(request: Request) -> JSONResponse:
        return JSONResponse({"templates": [template.summary() for template in catalog.templates]})

    handlers = {
        CREATE_TASK.operation_id: create_task,
        LIST_TASKS.operation_id: list_tasks,
        GET_TASK.operation_id: get_task,
        CANCEL_TASK.operation_id: cancel_task,
        LIST_TEMPLATES.operation_id: list_templates,
    }
    return [Endpoint(operation, handlers[operation.operation_id]) for operation in TASK_OPERATIONS]


def _key_reused(key: str, task_uuid: str, differs: tuple[str, ...]) -> ApiError:
    # 422, as draft-ietf-httpapi-idempotency-key-header §2.7 asks for a key reused with a different payload.
    return ApiError(
        422,
        f"idempotency key {key!r} was already used for a different request: its {', '.join(differs)} "
        f"{'differs' if len(differs) == 1 else 'differ'}",
        "send the first request unchanged to get its task, or use a new idempotency key for a new task",
        idempotency_key=key,
        task_uuid=task_uuid,
        differs=list(differs),
    )
