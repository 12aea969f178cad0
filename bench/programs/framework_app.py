"""The orchestration's HTTP surface without its database, built on Starlette or on FastAPI, for bench/api_framework.py.

    python framework_app.py starlette|fastapi PORT

Both variants answer the same four requests the same way, served by uvicorn configured as the services configure it
(httptools, uvloop, no access log): a canned task for GET /v1/tasks/{uuid}, a canned page for GET /v1/tasks after
checking its query, 201 with a canned task for POST /v1/tasks after parsing and validating the body with the services'
own request model, and /health. Only the framework differs: what it costs per request is the bench's question.
"""

from __future__ import annotations

import json
import sys
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse as FastJSONResponse
from fastapi.responses import Response as FastResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasker_cluster.services.orchestration.task_request import CreateTaskRequest

TASK = json.dumps({"task_uuid": str(uuid.uuid4()), "namespace": "examples", "name": "linear", "status": "complete",
                   "context": {"even_number": 2}, "steps": [{"name": f"s{i}", "status": "complete", "result": 4 ** i}
                                                            for i in range(4)]})  # fmt: skip
PAGE = json.dumps({"tasks": [], "limit": 50, "offset": 0})
Status = Literal["pending", "steps_in_process", "complete", "error", "cancelled"]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    namespace: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def parse_body(raw: bytes) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        return dict(items)

    return json.loads(raw, object_pairs_hook=pairs, parse_float=Decimal)


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "fix": "..."}, status_code=status)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "instance": "bench", "role": "orchestration", "uptime_s": 1.0})

    async def get_task(request: Request) -> Response:
        try:
            uuid.UUID(request.path_params["task_uuid"])
        except ValueError:
            return error(422, "not a uuid")
        return Response(TASK, media_type="application/json")

    async def list_tasks(request: Request) -> Response:
        try:
            ListQuery.model_validate(dict(request.query_params))
        except ValidationError:
            return error(422, "bad query")
        return Response(PAGE, media_type="application/json")

    async def create_task(request: Request) -> Response:
        try:
            CreateTaskRequest.model_validate(parse_body(await request.body()))
        except (ValueError, ValidationError):
            return error(422, "bad body")
        return Response(TASK, status_code=201, media_type="application/json")

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/tasks", create_task, methods=["POST"]),
            Route("/v1/tasks", list_tasks, methods=["GET"]),
            Route("/v1/tasks/{task_uuid}", get_task, methods=["GET"]),
        ]
    )


def fastapi_app() -> Any:
    app = FastAPI()

    @app.get("/health")
    async def health() -> FastJSONResponse:
        return FastJSONResponse({"status": "ok", "instance": "bench", "role": "orchestration", "uptime_s": 1.0})

    @app.get("/v1/tasks/{task_uuid}")
    async def get_task(task_uuid: uuid.UUID) -> FastResponse:
        return FastResponse(TASK, media_type="application/json")

    @app.get("/v1/tasks")
    async def list_tasks(query: Annotated[ListQuery, Query()]) -> FastResponse:
        return FastResponse(PAGE, media_type="application/json")

    @app.post("/v1/tasks", status_code=201)
    async def create_task(body: CreateTaskRequest) -> FastResponse:
        return FastResponse(TASK, status_code=201, media_type="application/json")

    return app


def main() -> None:
    framework, port = sys.argv[1], int(sys.argv[2])
    app = starlette_app() if framework == "starlette" else fastapi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", access_log=False,
                lifespan="off", log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main()
