"""The harness's client against the services' /openapi.json: every call it makes is an operation of the document,
the statuses it takes as success are documented, and its models read the fields the document declares."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tasker_cluster.services.common.openapi import service_document
from tasker_cluster.services.orchestration.api import TASK_OPERATIONS
from tasker_cluster.testing.client import CALLS, CREATE_TASK, Call
from tasker_cluster.testing.models import Step, Task, TaskRequest

DOCUMENT = service_document("orchestration", TASK_OPERATIONS)


def operation(call: Call) -> dict[str, Any]:
    return DOCUMENT["paths"][call.path][call.method.lower()]


def schema(name: str) -> dict[str, Any]:
    return DOCUMENT["components"]["schemas"][name]


def json_types(field_schema: dict[str, Any]) -> set[str]:
    """The JSON types a (pydantic-made) schema allows, null left out; empty when it allows anything."""
    branches = field_schema.get("anyOf", [field_schema])
    found = set()
    for branch in branches:
        if "$ref" in branch:
            found.add("object")
        elif "type" in branch:
            found.add(branch["type"])
        elif "enum" in branch:
            found.add("string")
    return found - {"null"}


@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.operation_id)
def test_every_call_of_the_client_is_a_documented_operation_with_its_success_statuses(call: Call) -> None:
    documented = operation(call)
    assert documented["operationId"] == call.operation_id
    assert {str(status) for status in call.success} <= set(documented["responses"])


def test_the_only_status_the_harness_retries_a_creation_on_is_documented_with_retry_after() -> None:
    assert "Retry-After" in operation(CREATE_TASK)["responses"]["503"]["headers"]


@pytest.mark.parametrize(
    ("model", "documented"), [(TaskRequest, "CreateTaskRequest"), (Task, "TaskView"), (Step, "StepView")]
)
def test_each_harness_model_field_is_a_documented_field_of_the_same_json_type(
    model: type[BaseModel], documented: str
) -> None:
    ours = model.model_json_schema()["properties"]
    theirs = schema(documented)["properties"]
    assert set(ours) <= set(theirs)
    for name, field_schema in ours.items():
        wanted, have = json_types(theirs[name]), json_types(field_schema)
        assert not wanted or not have or have <= wanted, f"{model.__name__}.{name}: {have} vs {wanted}"


def test_a_task_request_sends_every_field_the_document_accepts() -> None:
    assert set(TaskRequest.model_json_schema()["properties"]) == set(schema("CreateTaskRequest")["properties"])
