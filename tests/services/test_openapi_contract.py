"""Property-based tests of /openapi.json against running instances (schemathesis, issue 17): requests generated from
the document, valid and invalid, must each get a documented status with a body matching its declared schema; no 5xx
but the documented 503s (which need a failing database, so none here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from service_instances import ServiceProcess, spawn_service

from tasker_cluster.services.common.openapi import service_document
from tasker_cluster.services.orchestration.api import TASK_OPERATIONS

pytestmark = pytest.mark.services

# Enough to reach every documented status of each operation, few enough to keep the tier's run short.
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


@pytest.fixture(scope="module")
def worker(migrated_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    instance = spawn_service("worker", "worker-1", migrated_database_url, tmp_path_factory.mktemp("worker"))
    try:
        instance.wait_ready()
        yield instance
    finally:
        code = instance.terminate() if instance.stopped_with is None else instance.stopped_with
    assert code == 0, f"exit code after SIGTERM: {code}"


# A schema-valid request may still be refused with a documented 422: a JSON Schema cannot say "no NUL character, no
# lone surrogate, no negative zero" of the free-form context, and the document says it in words instead.
NOT_CHECKED = [positive_data_acceptance]

# The documents as the services make them; the last test proves each instance serves exactly this.
orchestration_api = schemathesis.openapi.from_dict(service_document("orchestration", TASK_OPERATIONS))
worker_api = schemathesis.openapi.from_dict(service_document("worker", []))


@orchestration_api.parametrize()
@EXAMPLES
def test_the_orchestration_answers_every_generated_request_as_its_document_says(
    case: Any, orchestration: ServiceProcess
) -> None:
    case.call_and_validate(base_url=orchestration.url, excluded_checks=NOT_CHECKED)


@worker_api.parametrize()
@EXAMPLES
def test_the_worker_answers_every_generated_request_as_its_document_says(case: Any, worker: ServiceProcess) -> None:
    case.call_and_validate(base_url=worker.url, excluded_checks=NOT_CHECKED)


def test_each_service_serves_the_document_made_from_its_operations(
    orchestration: ServiceProcess, worker: ServiceProcess
) -> None:
    served = {role: httpx.get(f"{instance.url}/openapi.json").json() for role, instance in
              (("orchestration", orchestration), ("worker", worker))}  # fmt: skip
    assert served["orchestration"] == service_document("orchestration", TASK_OPERATIONS)
    assert served["worker"] == service_document("worker", [])
    assert served["orchestration"]["openapi"] == "3.1.0"
    for path in ("/v1/tasks", "/v1/tasks/{task_uuid}", "/v1/templates", "/health", "/health/ready", "/openapi.json"):
        assert path in served["orchestration"]["paths"]
    assert "/v1/tasks" not in served["worker"]["paths"]
    create = served["orchestration"]["paths"]["/v1/tasks"]["post"]["responses"]
    assert set(create) == {"200", "201", "400", "404", "413", "422", "503"}
    assert "Retry-After" in create["503"]["headers"]
