"""The harness's request model says what the service's API accepts, no more and no less."""

from __future__ import annotations

from tasker_cluster.services.orchestration.task_request import CreateTaskRequest
from tasker_cluster.testing import TaskRequest


def test_a_task_request_has_every_field_the_service_accepts() -> None:
    # TaskRequest refuses unknown fields, so a field it lacks is one a user's suite cannot send at all.
    assert set(TaskRequest.model_fields) == set(CreateTaskRequest.model_fields)


def test_a_task_request_body_leaves_out_what_was_not_set() -> None:
    request = TaskRequest(namespace="examples", name="linear", priority=5)
    assert request.body() == {"namespace": "examples", "name": "linear", "context": {}, "priority": 5}
