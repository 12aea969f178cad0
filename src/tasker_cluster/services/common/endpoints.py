"""The services' HTTP endpoints, each declared once as an Operation: the same declaration validates the requests
(path, query and body through their pydantic models), routes them, and describes them in /openapi.json.

One route per path serves all of its methods, so that a method the path lacks gets 405 with an `Allow` header
listing every method it has (RFC 9110 §15.5.6), and OPTIONS answers 204 with the same list (§9.3.7); HEAD is answered
wherever GET is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tasker_cluster.services.common.problems import ApiError
from tasker_cluster.services.common.request_body import decode_body, parse_json, read_body

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Reply:
    """One documented response: its description, its JSON body's model (None: no JSON body), its headers."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One method on one path: what it takes (models of its path parameters, query and body) and what it answers."""

    method: str
    path: str
    operation_id: str
    summary: str
    replies: Mapping[int, Reply]
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    description: str = ""


@dataclass(frozen=True)
class Endpoint:
    """An Operation bound to the coroutine that answers it, called with the request and, as keyword arguments, the
    validated `path`, `query` and `body` the operation declares (and `body_text`, the text the body was parsed from)."""

    operation: Operation
    handler: Handler


def routes(endpoints: Sequence[Endpoint], max_body_bytes: int) -> list[Route]:
    """One Starlette route per path, serving every method the endpoints declare on it."""
    ordered = sorted(endpoints, key=lambda endpoint: endpoint.operation.path)
    return [
        _path_route(path, list(group), max_body_bytes)
        for path, group in groupby(ordered, key=lambda endpoint: endpoint.operation.path)
    ]


def allowed_methods(methods: Sequence[str]) -> str:
    """The `Allow` header value for a path with these methods: HEAD with GET, OPTIONS always, in alphabetical order."""
    allowed = {*methods, "OPTIONS", *(["HEAD"] if "GET" in methods else [])}
    return ", ".join(sorted(allowed))


def _path_route(path: str, endpoints: list[Endpoint], max_body_bytes: int) -> Route:
    by_method = {endpoint.operation.method: endpoint for endpoint in endpoints}
    allow = allowed_methods(list(by_method))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        endpoint = by_method.get(method)
        if endpoint is not None:
            return await _call(endpoint, request, max_body_bytes)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        raise ApiError(
            405,
            f"{request.method} is not a method of {path}",
            f"use one of: {allow}",
            headers={"Allow": allow},
        )

    return _PathRoute(path, dispatch)


class _PathRoute(Route):
    """A route that takes every method of its path and lets its endpoint answer 405 and OPTIONS: Starlette's own 405
    lists the methods of one route only, in set order (which differs from one process to the next)."""

    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        super().__init__(path, endpoint)
        self.methods = None


async def _call(endpoint: Endpoint, request: Request, max_body_bytes: int) -> Response:
    operation = endpoint.operation
    inputs: dict[str, Any] = {}
    if operation.path_params is not None:
        inputs["path"] = _validated(operation.path_params, request.path_params, "the path is not valid", strings=True)
    if operation.query is not None:
        inputs["query"] = _validate_query(operation.query, request)
    if operation.body is not None:
        text = decode_body(await read_body(request, max_body_bytes))
        inputs["body"] = _validated(operation.body, parse_json(text), "the request body is not valid", strings=False)
        inputs["body_text"] = text
    return await endpoint.handler(request, **inputs)


def _validate_query(model: type[BaseModel], request: Request) -> BaseModel:
    params = request.query_params
    repeated = sorted({key for key in params if len(params.getlist(key)) > 1})
    if repeated:
        raise ApiError(
            422,
            f"query parameter {', '.join(repeated)} is given more than once",
            "give each query parameter once: which value was meant cannot be known",
        )
    return _validated(model, dict(params), "the query parameters are not valid", strings=True)


def _validated(model: type[BaseModel], value: Any, message: str, *, strings: bool) -> BaseModel:
    """Path and query parameters are strings, parsed as their fields' types; a body is JSON, checked strictly."""
    try:
        return model.model_validate_strings(value) if strings else model.model_validate(value)
    except ValidationError as error:
        details = error.errors(include_url=False, include_context=False, include_input=False)
        raise ApiError(422, message, "correct what `details` lists", details=details) from None
