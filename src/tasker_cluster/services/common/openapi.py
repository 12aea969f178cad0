"""/openapi.json: the OpenAPI 3.1 document of a service, made from its Operations and their pydantic models, so it
describes exactly what the endpoints validate and answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tasker_cluster.services.common.endpoints import Operation, Reply
from tasker_cluster.services.common.health_views import HEALTH_OPERATIONS
from tasker_cluster.services.common.problems import ErrorBody
from tasker_cluster.services.common.request_body import MAX_NESTING_DEPTH

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"

# Answers any path can give besides its operations' own: documented once, under components.
PATH_REPLIES = {
    "MethodNotAllowed": Reply(
        "405: the path has no such method; `Allow` lists the ones it has (OPTIONS answers 204 with the same header).",
        ErrorBody,
        headers={"Allow": "The methods of the path, e.g. `GET, HEAD, OPTIONS, POST`."},
    ),
    "NotFound": Reply("404: no such path.", ErrorBody),
    "InternalError": Reply("500: a bug; the instance's log has its traceback.", ErrorBody),
}


OPENAPI = Operation(
    "GET",
    "/openapi.json",
    "openapi",
    "This document: the service's API contract (OpenAPI 3.1)",
    replies={200: Reply("The OpenAPI document.", media_type="application/json")},
)

_DESCRIPTION = """The reference {role} service of tasker-cluster.

Every request is done exactly as sent or refused with `{{"error", "fix"}}` JSON and the status that says why: 400
(the body is not UTF-8 JSON), 404 (no such path or resource), 405 (no such method on the path: `Allow` lists its
methods; OPTIONS answers 204 with `Allow`; HEAD is answered wherever GET is), 409 (a state change that came too late),
413 (the body exceeds --max-body-bytes, 1 MiB by default), 422 (not valid: unknown fields or query parameters, a key
twice in one object, arrays and objects nested deeper than {max_depth} levels, a query parameter given twice, a value
that cannot be stored exactly), 503 (the database is unavailable: retry after `Retry-After` seconds), 500 (a bug)."""


def service_document(role: str, operations: Sequence[Operation]) -> dict[str, Any]:
    """The document of a service of `role` serving `operations` besides the health endpoints and this document."""
    every = [*HEALTH_OPERATIONS, OPENAPI, *operations]
    return openapi_document(f"tasker {role}", _DESCRIPTION.format(role=role, max_depth=MAX_NESTING_DEPTH), every)


def openapi_document(title: str, description: str, operations: Sequence[Operation]) -> dict[str, Any]:
    """The document as a JSON-ready dict: `paths` from the operations, `components.schemas` from their models."""
    schemas = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1", "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {name: _reply(reply) for name, reply in PATH_REPLIES.items()},
        },
    }


def _models(operations: Sequence[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for operation in operations:
        for model in (operation.body, *(reply.model for reply in operation.replies.values())):
            if model is not None:
                found[model.__name__] = model
    for reply in PATH_REPLIES.values():
        if reply.model is not None:
            found[reply.model.__name__] = reply.model
    return list(found.values())


def _schemas(operations: Sequence[Operation]) -> dict[str, Any]:
    _, definitions = models_json_schema([(model, "validation") for model in _models(operations)], ref_template=_REF)
    return definitions.get("$defs", {})


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary}
    if operation.description:
        described["description"] = operation.description
    parameters = [
        *_parameters(operation.path_params, "path"),
        *_parameters(operation.query, "query"),
    ]
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=operation.body.__name__)}}},
        }
    described["responses"] = {str(status): _reply(reply) for status, reply in sorted(operation.replies.items())}
    return described


def _parameters(model: type[BaseModel] | None, location: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": location,
            "required": location == "path" or name in required,
            **({"description": prop.pop("description")} if "description" in prop else {}),
            "schema": _without_null(prop),
        }
        for name, prop in schema["properties"].items()
    ]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is either given or absent: the `null` of an optional field has no spelling in a URL."""
    branches = [branch for branch in schema.get("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
        return {**rest, **branches[0]}
    return schema


def _reply(reply: Reply) -> dict[str, Any]:
    described: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        described["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in reply.headers.items()
        }
    if reply.model is not None:
        described["content"] = {reply.media_type: {"schema": {"$ref": _REF.format(model=reply.model.__name__)}}}
    else:
        schema = {"type": "object"} if reply.media_type == "application/json" else {"type": "string"}
        described["content"] = {reply.media_type: {"schema": schema}}
    return described
