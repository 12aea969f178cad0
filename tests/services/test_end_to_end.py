"""One orchestration and one worker, real processes over HTTP: every shipped template, and the API's answers."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from service_instances import ServicePair, wait_for_tasks

pytestmark = pytest.mark.services

SHIPPED = {"linear", "diamond", "fail_once", "always_fail", "slow"}


def create(client: httpx.Client, name: str, context: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"namespace": "examples", "name": name, "context": context or {}, **fields}
    response = client.post("/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def steps_by_name(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in task["steps"]}


def test_every_shipped_template_completes_end_to_end_over_http(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        assert {t["name"] for t in client.get("/v1/templates").json()["templates"]} == SHIPPED
        created = {name: create(client, name, {"even_number": 2, "ms": 50}) for name in sorted(SHIPPED)}
        done = wait_for_tasks(client, [task["task_uuid"] for task in created.values()])
    task = {name: done[created[name]["task_uuid"]] for name in SHIPPED}

    assert task["linear"]["status"] == "complete"
    assert [step["result"] for step in task["linear"]["steps"]] == [4, 16, 256, 65536]
    assert task["linear"]["completion_percentage"] == 100.0
    assert task["diamond"]["status"] == "complete"
    assert {name: step["result"] for name, step in steps_by_name(task["diamond"]).items()} == {
        "start": 4,
        "branch_b": 16,
        "branch_c": 16,
        "end": 256,
    }
    assert task["fail_once"]["status"] == "complete"
    assert steps_by_name(task["fail_once"])["flaky"]["attempts"] == 2
    assert task["always_fail"]["status"] == "error"
    doomed, never_runs = task["always_fail"]["steps"]
    assert (doomed["status"], doomed["attempts"], task["always_fail"]["failed_steps"]) == ("error", 3, 1)
    assert (never_runs["status"], never_runs["attempts"]) == ("cancelled", 0)
    assert task["slow"]["status"] == "complete"
    assert task["slow"]["steps"][0]["result"] == {"slept_ms": 50}
    for each in task.values():
        assert each["created_by"] == "orchestration-1"
        assert {s["processed_by"] for s in each["steps"] if s["attempts"]} == {"worker-1"}


def test_a_task_reads_the_same_after_it_finished_as_the_list_reports_it(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        created = create(client, "linear", {"even_number": 4}, tags=["a"], initiator="tests", reason="listing")
        wait_for_tasks(client, [created["task_uuid"]])
        listed = client.get("/v1/tasks", params={"status": "complete", "namespace": "examples"}).json()
        other_namespace = client.get("/v1/tasks", params={"namespace": "nowhere"}).json()
        task = client.get(f"/v1/tasks/{created['task_uuid']}").json()
    assert [t["task_uuid"] for t in listed["tasks"]] == [created["task_uuid"]]
    assert other_namespace["tasks"] == []
    assert (task["tags"], task["initiator"], task["reason"]) == (["a"], "tests", "listing")
    assert task["steps"][-1]["result"] == 4**16


def test_unknown_template_is_404_and_invalid_bodies_are_422(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        unknown = client.post("/v1/tasks", json={"namespace": "examples", "name": "nope"})
        wrong_version = client.post("/v1/tasks", json={"namespace": "examples", "name": "linear", "version": "9.9"})
        missing_name = client.post("/v1/tasks", json={"namespace": "examples"})
        context_not_object = client.post("/v1/tasks", json={"namespace": "examples", "name": "linear", "context": 3})
        misspelt_field = client.post("/v1/tasks", json={"namespace": "examples", "name": "linear", "contxt": {}})
        not_json = client.post("/v1/tasks", content=b"{not json")
    assert unknown.status_code == 404 and "examples/nope" in unknown.json()["error"]
    assert wrong_version.status_code == 404
    for response in (missing_name, context_not_object, misspelt_field):
        assert response.status_code == 422, response.text
        assert response.json()["fix"]
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert [d["loc"] for d in missing_name.json()["details"]] == [["name"]]


def test_the_task_list_pages_newest_first_with_limit_and_offset(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        uuids = [create(client, "slow", {"ms": 0})["task_uuid"] for _ in range(3)]
        first_page = client.get("/v1/tasks", params={"limit": 2}).json()
        second_page = client.get("/v1/tasks", params={"limit": 2, "offset": 2}).json()
        past_the_end = client.get("/v1/tasks", params={"offset": 3}).json()
    newest_first = uuids[::-1]
    assert [t["task_uuid"] for t in first_page["tasks"]] == newest_first[:2]
    assert [t["task_uuid"] for t in second_page["tasks"]] == newest_first[2:]
    assert (second_page["limit"], second_page["offset"], past_the_end["tasks"]) == (2, 2, [])


UNSTORABLE_BODIES = {
    "NUL in context": b'{"namespace":"examples","name":"linear","context":{"a":["x\\u0000y"]}}',
    "NUL in a context key": b'{"namespace":"examples","name":"linear","context":{"\\u0000":1}}',
    "NUL in initiator": b'{"namespace":"examples","name":"linear","initiator":"a\\u0000b"}',
    "NUL in a tag": b'{"namespace":"examples","name":"linear","tags":["\\u0000"]}',
    "NUL in idempotency_key": b'{"namespace":"examples","name":"linear","idempotency_key":"k\\u0000"}',
    "NaN in context": b'{"namespace":"examples","name":"linear","context":{"a":NaN}}',
    "beyond numeric": b'{"namespace":"examples","name":"linear","context":{"a":{"b":1e200000}}}',
}


def test_values_postgresql_cannot_store_are_422_naming_the_field_never_500(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        answers = {
            case: client.post("/v1/tasks", content=body, headers={"Content-Type": "application/json"})
            for case, body in UNSTORABLE_BODIES.items()
        }
        nul_filter = client.get("/v1/tasks", params={"namespace": "ex\x00amples"})
        still_serving = client.get("/v1/tasks")
    assert {case: r.status_code for case, r in answers.items()} == dict.fromkeys(UNSTORABLE_BODIES, 422)
    assert answers["NUL in initiator"].json()["details"][0]["loc"] == ["initiator"]
    assert "NUL" in answers["NUL in context"].json()["details"][0]["msg"]
    assert "cannot be stored exactly" in answers["beyond numeric"].json()["details"][0]["msg"]
    assert (nul_filter.status_code, still_serving.json()["tasks"]) == (422, [])


def test_task_lookups_answer_404_for_unknown_and_422_for_malformed_ids(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        unknown = client.get(f"/v1/tasks/{uuid.uuid4()}")
        malformed = client.get("/v1/tasks/not-a-uuid")
        cancel_unknown = client.delete(f"/v1/tasks/{uuid.uuid4()}")
        bad_status = client.get("/v1/tasks", params={"status": "finished"})
        bad_limit = client.get("/v1/tasks", params={"limit": "0"})
    assert (unknown.status_code, malformed.status_code, cancel_unknown.status_code) == (404, 422, 404)
    assert (bad_status.status_code, bad_limit.status_code) == (422, 422)


def test_the_same_request_with_the_same_idempotency_key_returns_the_first_task_and_never_creates_another(
    service_pair: ServicePair,
) -> None:
    body = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}, "idempotency_key": "order-42"}
    with service_pair.client() as client:
        first = client.post("/v1/tasks", json=body)
        again = client.post("/v1/tasks", json=body)
        listed = client.get("/v1/tasks").json()["tasks"]
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["task_uuid"] == first.json()["task_uuid"]
    assert len(listed) == 1


def test_concurrent_requests_with_one_idempotency_key_create_one_task(service_pair: ServicePair) -> None:
    body = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}, "idempotency_key": "race"}
    racers = 8
    # A client each, so the requests really arrive together on separate connections.
    clients = [service_pair.client() for _ in range(racers)]
    try:
        with ThreadPoolExecutor(racers) as pool:
            answers = list(pool.map(lambda client: client.post("/v1/tasks", json=body), clients))
    finally:
        for client in clients:
            client.close()
    with service_pair.client() as client:
        listed = client.get("/v1/tasks").json()["tasks"]
    assert sorted(answer.status_code for answer in answers) == [200] * (racers - 1) + [201]
    assert len({answer.json()["task_uuid"] for answer in answers}) == 1
    assert [task["task_uuid"] for task in listed] == [answers[0].json()["task_uuid"]]


def test_cancel_stops_an_unfinished_task_and_refuses_a_finished_one(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        running = create(client, "slow", {"ms": 5000})
        cancelled = client.delete(f"/v1/tasks/{running['task_uuid']}")
        again = client.delete(f"/v1/tasks/{running['task_uuid']}")
        finished = create(client, "linear", {"even_number": 2})
        wait_for_tasks(client, [finished["task_uuid"]])
        too_late = client.delete(f"/v1/tasks/{finished['task_uuid']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (again.status_code, again.json()["status"]) == (409, "cancelled")
    assert (too_late.status_code, too_late.json()["status"]) == (409, "complete")


def test_a_running_step_of_a_cancelled_task_is_cancelled_and_its_late_outcome_refused_visibly(
    service_pair: ServicePair,
) -> None:
    with service_pair.client() as client:
        task_uuid = create(client, "slow", {"ms": 1500})["task_uuid"]
        running = poll("its step in progress", lambda: first_step_in_progress(client, task_uuid))
        cancelled = client.delete(f"/v1/tasks/{task_uuid}")
        # The handler runs on to its end; what it then reports must change nothing.
        refused = poll("the late outcome refused", lambda: refusals(service_pair.database_url, task_uuid))
        after = client.get(f"/v1/tasks/{task_uuid}").json()
    worker_metrics = httpx.get(f"{service_pair.worker.url}/metrics").text
    assert running["status"] == "steps_in_process"
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["steps"][0]["status"]) == ("cancelled", "cancelled")
    assert (after["status"], after["completed_steps"]) == ("cancelled", 0)
    assert {key: after["steps"][0][key] for key in ("status", "attempts", "result", "processed_by")} == {
        "status": "cancelled",
        "attempts": 1,
        "result": None,
        "processed_by": "worker-1",
    }
    history = step_history(service_pair.database_url, task_uuid)
    assert [row[1:3] for row in history] == [
        (None, "pending"),
        ("pending", "enqueued"),
        ("enqueued", "in_progress"),
        ("in_progress", "cancelled"),
        ("cancelled", "refused"),
    ]
    assert (history[3][3], history[4][3]) == ("orchestration-1", "worker-1")
    assert refused == [(1, "cancelled", "refused", "worker-1")]
    assert 'tasker_transition_conflicts_total{kind="task_cancelled"} 1.0' in worker_metrics
    assert "1 step outcomes refused: their tasks were cancelled while they ran" in service_pair.worker.log()


def first_step_in_progress(client: httpx.Client, task_uuid: str) -> dict[str, Any] | None:
    task = client.get(f"/v1/tasks/{task_uuid}").json()
    return task if task["steps"][0]["status"] == "in_progress" else None


def refusals(database_url: str, task_uuid: str) -> list[tuple[Any, ...]]:
    return [row for row in step_history(database_url, task_uuid) if row[2] == "refused"]


def step_history(database_url: str, task_uuid: str) -> list[tuple[Any, ...]]:
    """(attempt, from_state, to_state, instance) of the task's steps, in order."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT attempt, from_state, to_state, instance FROM tasker.step_transitions WHERE task_uuid = %s"
            " ORDER BY id",
            (task_uuid,),
        ).fetchall()


def poll(what: str, probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.02)
    pytest.fail(f"{what}: not after {timeout} s")


def test_health_endpoints_name_the_instance_and_metrics_count_the_work(service_pair: ServicePair) -> None:
    with service_pair.client() as client:
        wait_for_tasks(client, [create(client, "linear", {"even_number": 2})["task_uuid"]])
        health = client.get("/health").json()
        detailed = client.get("/health/detailed").json()
        orchestration_metrics = client.get("/metrics").text
    worker_metrics = httpx.get(f"{service_pair.worker.url}/metrics").text
    assert (health["status"], health["instance"]) == ("ok", "orchestration-1")
    assert detailed["ready"] is True
    assert set(detailed["queues"]) == {"orchestration_step_results", "worker_examples_queue"}
    assert 'tasker_tasks_created_total{name="linear",namespace="examples"} 1.0' in orchestration_metrics
    assert 'tasker_tasks_finished_total{status="complete"} 1.0' in orchestration_metrics
    assert 'tasker_steps_processed_total{outcome="complete"} 4.0' in worker_metrics
