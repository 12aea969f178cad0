"""Every request to the task API is done exactly as sent, or refused with the status that says why (issue 17).

One real orchestration instance on a real PostgreSQL; no worker, so tasks stay steps_in_process unless a test moves
them. Bodies are sent as raw bytes where the point is what exactly the server receives.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from service_instances import ServiceProcess, spawn_service

from tasker_cluster.testing import (
    BlockingManager,
    ClusterConfig,
    IdempotencyKeyReusedError,
    TaskApiError,
    TaskRequest,
)

pytestmark = pytest.mark.services

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(orchestration: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=orchestration.url, timeout=10.0) as client:
        yield client


def post_raw(client: httpx.Client, body: bytes | str) -> httpx.Response:
    return client.post("/v1/tasks", content=body.encode() if isinstance(body, str) else body, headers=JSON)


def exact(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def test_context_numbers_are_stored_and_returned_exactly_as_sent(client: httpx.Client) -> None:
    sent = '{"big": 12345678901234567890123.5, "beyond_double": 9007199254740993.0, "scale": 1.50, "tiny": 1e-30, "int": 123456789012345678901234567890, "nested": [0.1, {"x": 2.000}]}'  # noqa: E501
    created = post_raw(client, f'{{"namespace": "examples", "name": "linear", "context": {sent}}}')
    assert created.status_code == 201, created.text
    read_back = client.get(f"/v1/tasks/{created.json()['task_uuid']}")
    for answer in (created, read_back):
        context = exact(answer.text)["context"]
        assert context == exact(sent)
        # Equal as Decimals is not enough: the digits and decimal places are the ones sent.
        assert [str(context[key]) for key in ("big", "beyond_double", "scale")] == [
            "12345678901234567890123.5",
            "9007199254740993.0",
            "1.50",
        ]
        assert str(context["nested"][1]["x"]) == "2.000"


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ('{"a": -0.0}', "negative zero"),
        ('{"a": [1, -0]}', "negative zero"),
        ('{"a": -0e5}', "negative zero"),
        ('{"a": 1e131072}', "numeric holds at most"),
        ('{"a": 1.5e-16383}', "numeric holds at most"),
        ('{"a": "\\ud800"}', "lone surrogate"),
    ],
)
def test_a_context_value_that_cannot_be_stored_exactly_is_refused_naming_where_it_is(
    client: httpx.Client, context: str, complaint: str
) -> None:
    answer = post_raw(client, f'{{"namespace": "examples", "name": "linear", "context": {context}}}')
    assert answer.status_code == 422, answer.text
    detail = answer.json()["details"][0]
    assert detail["loc"] == ["context"] and complaint in detail["msg"] and "['a']" in detail["msg"]


def nested(kind: str, depth: int) -> str:
    """A JSON value of `depth` levels of arrays (or objects), the innermost holding 1."""
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("context", '{"x": ' + nested("array", 984) + "}"),
        ("context", '{"x": ' + nested("object", 984) + "}"),
        ("tags", nested("array", 985)),
        # One level beyond the limit: the body's object, `context`, and 63 more.
        ("context", '{"x": ' + nested("array", 63) + "}"),
    ],
)
def test_a_body_nested_deeper_than_the_limit_is_refused_naming_the_limit_and_creates_nothing(
    client: httpx.Client, field: str, value: str
) -> None:
    before = client.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
    answer = post_raw(client, f'{{"namespace": "examples", "name": "linear", "{field}": {value}}}')
    after = client.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
    assert answer.status_code == 422, answer.text
    assert "nested deeper than 64 levels" in answer.json()["error"]
    assert "64" in answer.json()["fix"]
    assert len(after) == len(before)


def test_a_context_nested_up_to_the_limit_is_stored_and_returned_as_sent(client: httpx.Client) -> None:
    # 64 levels: the body's object, `context`, and 62 arrays around the innermost object.
    context = '{"x": ' + nested("array", 62) + "}"
    created = post_raw(client, f'{{"namespace": "examples", "name": "linear", "context": {context}}}')
    assert created.status_code == 201, created.text
    read_back = client.get(f"/v1/tasks/{created.json()['task_uuid']}")
    assert read_back.json()["context"] == json.loads(context)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"namespace": "examples", "name": "slow", "name": "linear"}', "name"),
        ('{"namespace": "examples", "name": "linear", "context": {"n": {"a": 1, "a": 2}}}', "a"),
    ],
)
def test_a_key_sent_twice_in_one_object_is_refused_naming_it_and_creates_nothing(
    client: httpx.Client, body: str, key: str
) -> None:
    before = client.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
    answer = post_raw(client, body)
    after = client.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
    assert answer.status_code == 422, answer.text
    assert f"the key {key!r} twice" in answer.json()["error"]
    assert len(after) == len(before)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"namespace": "examples", "name": "linear"', 400),
        (b"\xff\xfe{}", 400),
        (b'{"namespace": "examples", "name": "linear", "context": {"a": NaN}}', 422),
        (b'{"namespace": "examples", "name": "linear", "priority": "5"}', 422),
        (b'{"namespace": "examples", "name": "linear", "priority": true}', 422),
        (b'{"namespace": "examples", "name": "linear", "priority": 1.5}', 422),
        (b'["namespace", "examples"]', 422),
    ],
)
def test_a_body_that_is_not_json_is_400_and_one_that_is_not_a_valid_request_422(
    client: httpx.Client, body: bytes, status: int
) -> None:
    answer = post_raw(client, body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) >= {"error", "fix"}


def test_same_idempotency_key_with_another_payload_is_refused_naming_the_key_and_what_differs(
    client: httpx.Client,
) -> None:
    key = f"order-{uuid.uuid4()}"
    first = client.post("/v1/tasks", json={"namespace": "examples", "name": "linear", "context": {"n": 1.0},
                                           "idempotency_key": key})  # fmt: skip
    # The same request again, its context spelt differently but equal as JSON values: the first task, not a new one.
    replay = post_raw(
        client, f'{{"idempotency_key": "{key}", "context": {{"n": 1.00}}, "name": "linear", "namespace": "examples"}}'
    )
    other_template = client.post(
        "/v1/tasks", json={"namespace": "examples", "name": "slow", "context": {"n": 1}, "idempotency_key": key}
    )
    other_context = client.post(
        "/v1/tasks",
        json={"namespace": "examples", "name": "linear", "context": {"n": 2}, "tags": ["x"], "idempotency_key": key},
    )
    listed = client.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
    assert (first.status_code, replay.status_code) == (201, 200), replay.text
    assert replay.json()["task_uuid"] == first.json()["task_uuid"]
    for refused, differs, verb in (
        (other_template, ["name"], "differs"),
        (other_context, ["context", "tags"], "differ"),
    ):
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["error"].endswith(f"different request: its {', '.join(differs)} {verb}"), body["error"]
        assert (body["idempotency_key"], body["task_uuid"], body["differs"]) == (
            key,
            first.json()["task_uuid"],
            differs,
        )
    assert [task["task_uuid"] for task in listed].count(first.json()["task_uuid"]) == 1


def big_body(size: int) -> bytes:
    head = b'{"namespace": "examples", "name": "linear", "context": {"pad": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_over_the_default_1_mib_is_413_whether_declared_or_chunked_and_the_connection_still_serves(
    client: httpx.Client,
) -> None:
    declared = post_raw(client, big_body(1024 * 1024 + 1))
    chunked = client.post("/v1/tasks", content=iter([big_body(3 * 1024 * 1024)]), headers=JSON)
    after = client.get("/health")
    at_the_limit = post_raw(client, big_body(1024 * 1024))
    assert (declared.status_code, chunked.status_code, after.status_code) == (413, 413, 200)
    assert "at most 1048576 bytes" in declared.json()["error"] and "--max-body-bytes" in declared.json()["fix"]
    assert at_the_limit.status_code == 201, at_the_limit.text[:300]


def test_a_configured_body_limit_is_enforced(migrated_database_url: str, tmp_path: Path) -> None:
    instance = spawn_service(
        "orchestration", "small-bodies", migrated_database_url, tmp_path, ["--max-body-bytes", "2000"]
    )
    try:
        instance.wait_ready()
        with httpx.Client(base_url=instance.url, timeout=10.0) as client:
            over = post_raw(client, big_body(2001))
            under = post_raw(client, big_body(2000))
    finally:
        assert instance.terminate() == 0
    assert (over.status_code, under.status_code) == (413, 201)
    assert "at most 2000 bytes" in over.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/tasks/{uuid}", "DELETE, GET, HEAD, OPTIONS"),
        ("PATCH", "/v1/tasks", "GET, HEAD, OPTIONS, POST"),
        ("DELETE", "/v1/templates", "GET, HEAD, OPTIONS"),
        ("POST", "/health", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_method_the_path_lacks_is_405_allowing_every_method_it_has_and_options_lists_them_too(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    path = path.replace("{uuid}", str(uuid.uuid4()))
    refused = client.request(method, path)
    options = client.options(path)
    assert (refused.status_code, refused.headers["allow"]) == (405, allow)
    assert refused.json()["fix"] == f"use one of: {allow}"
    assert (options.status_code, options.headers["allow"], options.content) == (204, allow, b"")


def test_head_answers_like_get_without_a_body_and_an_unknown_path_is_a_json_404(client: httpx.Client) -> None:
    head = client.head("/v1/tasks")
    unknown = client.get("/v1/task")
    trailing_slash = client.get("/v1/tasks/")
    assert (head.status_code, head.content) == (200, b"")
    for answer in (unknown, trailing_slash):
        assert answer.status_code == 404 and answer.json()["fix"] == "GET /openapi.json lists the paths of this service"


def test_unknown_or_repeated_query_parameters_are_refused(client: httpx.Client) -> None:
    misspelt = client.get("/v1/tasks?stauts=complete")
    repeated = client.get("/v1/tasks?limit=1&limit=2")
    empty = client.get("/v1/tasks?status=")
    assert (misspelt.status_code, repeated.status_code, empty.status_code) == (422, 422, 422)
    assert misspelt.json()["details"][0]["loc"] == ["stauts"]
    assert "limit is given more than once" in repeated.json()["error"]


def test_a_cancel_that_loses_the_race_to_a_completion_names_the_status_the_task_ended_in(
    client: httpx.Client, migrated_database_url: str
) -> None:
    task_uuid = client.post("/v1/tasks", json={"namespace": "examples", "name": "linear"}).json()["task_uuid"]
    answers: list[httpx.Response] = []
    with psycopg.connect(migrated_database_url) as completion:
        # The orchestration's completion of the task, held open: the cancel must wait for it, then lose.
        completion.execute(
            "UPDATE tasker.tasks SET status = 'complete', completed_at = now() WHERE task_uuid = %s", (task_uuid,)
        )
        canceller = threading.Thread(target=lambda: answers.append(client.delete(f"/v1/tasks/{task_uuid}")))
        canceller.start()
        wait_until_blocked_on_a_lock(migrated_database_url)
        completion.commit()
    canceller.join(10)
    assert answers and answers[0].status_code == 409, answers
    assert answers[0].json()["status"] == "complete"
    assert "it is complete" in answers[0].json()["error"]


def wait_until_blocked_on_a_lock(database_url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.01)
    pytest.fail("the cancel never waited for the completion's row lock")


def test_the_harness_raises_on_a_reused_idempotency_key_and_does_not_retry_a_413(orchestration: ServiceProcess) -> None:
    config = ClusterConfig(orchestration_urls=(orchestration.url,))
    key = f"harness-{uuid.uuid4()}"
    with BlockingManager.open(config) as manager:
        first = manager.create_task(TaskRequest(namespace="examples", name="linear", idempotency_key=key))
        again = manager.create_task(TaskRequest(namespace="examples", name="linear", idempotency_key=key))
        with pytest.raises(IdempotencyKeyReusedError) as reused:
            manager.create_task(TaskRequest(namespace="examples", name="slow", idempotency_key=key))
        with pytest.raises(TaskApiError) as too_large:
            manager.create_task(TaskRequest(namespace="examples", name="linear", context={"pad": "x" * 2_000_000}))
    assert (again.task_uuid, again.replayed) == (first.task_uuid, True)
    assert (reused.value.idempotency_key, reused.value.task_uuid, reused.value.differs) == (
        key,
        first.task_uuid,
        ["name"],
    )
    assert "different request" in reused.value.message
    # Refused on the first attempt: the manager raises at once for any status but 503 (after five attempts it would
    # raise a HarnessError naming them instead).
    assert too_large.value.status_code == 413 and "at most 1048576 bytes" in too_large.value.message
    assert "--max-body-bytes" in too_large.value.fix
