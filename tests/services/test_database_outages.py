"""The database crashes or drops the services' connections: they say so at once, refuse fast, and recover by themselves.

Each test runs real instances on a PostgreSQL of its own, which it kills with `kill -9` (the postmaster, as a crash
or an OOM kill would) and starts again, or whose backends it terminates (as a failover or a proxy restart does).
Figures are printed, not asserted: the tests prove what happens, the times are for the reader.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from own_postgres import OwnPostgres
from service_instances import ServiceProcess, spawn_service, wait_for_tasks

pytestmark = pytest.mark.services

BODY = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}}
# Far longer than a request may take here: a request that waits for a pooled connection while the database is down
# runs into the client's timeout instead of being refused.
POOL_TIMEOUT_S = "30"
CLIENT_TIMEOUT_S = 10.0
WAIT_S = 30.0


@pytest.fixture
def worker_options() -> list[str]:
    """The worker's options beyond the pair's; a test that needs others parametrizes this name."""
    return []


@pytest.fixture
def pair(own_database_url: str, tmp_path: Path, worker_options: list[str]) -> Iterator[list[ServiceProcess]]:
    options = ["--pool-timeout", POOL_TIMEOUT_S]
    instances = [
        spawn_service("orchestration", "orchestration-1", own_database_url, tmp_path, options),
        spawn_service("worker", "worker-1", own_database_url, tmp_path, [*options, *worker_options]),
    ]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances
    finally:
        for instance in instances:
            if instance.stopped_with is None:
                instance.terminate()


def poll_until(what: str, probe: Any, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.02)
    pytest.fail(f"not {what} after {timeout:g} s")


def readiness(instance: ServiceProcess) -> httpx.Response:
    return httpx.get(f"{instance.url}/health/ready", timeout=CLIENT_TIMEOUT_S)


def create(client: httpx.Client, count: int) -> list[str]:
    answers = [client.post("/v1/tasks", json=BODY) for _ in range(count)]
    assert [answer.status_code for answer in answers] == [201] * count, [answer.text for answer in answers]
    return [answer.json()["task_uuid"] for answer in answers]


def test_a_killed_database_is_reported_refused_fast_and_recovered_from_without_a_restart(
    own_postgres: OwnPostgres, pair: list[ServiceProcess]
) -> None:
    orchestration = pair[0]
    pids = [instance.process.pid for instance in pair]
    client = httpx.Client(base_url=orchestration.url, timeout=CLIENT_TIMEOUT_S)
    with client:
        before = create(client, 5)
        wait_for_tasks(client, before)

        killed_at = own_postgres.kill()
        unready = {
            instance.name: poll_until(
                f"{instance.name} unready", lambda i=instance: (r := readiness(i)).status_code == 503 and r
            )
            for instance in pair
        }
        unready_after = time.monotonic() - killed_at
        sent = time.monotonic()
        refused = client.post("/v1/tasks", json=BODY)
        refused_in = time.monotonic() - sent
        read = client.get(f"/v1/tasks/{before[0]}")

        up_at = own_postgres.start()
        for instance in pair:
            poll_until(f"{instance.name} ready again", lambda i=instance: readiness(i).status_code == 200)
        ready_after = time.monotonic() - up_at
        after = create(client, 10)
        done = wait_for_tasks(client, before + after)

    for name, answer in unready.items():
        body = answer.json()
        assert body["failed"] == ["database"], (name, body)
        assert own_postgres.server.port and str(own_postgres.server.port) in body["checks"]["database"]["detail"]
    for answer in (refused, read):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"].startswith("database unavailable"), answer.text
        assert answer.headers["Retry-After"] == "1"
    assert {task["status"] for task in done.values()} == {"complete"}
    assert [instance.process.poll() for instance in pair] == [None, None], "no instance exited"
    assert [instance.process.pid for instance in pair] == pids
    # A failing probe is access-logged (a successful one is not: test_access_log.py).
    for instance in pair:
        assert '"GET /health/ready HTTP/1.1" 503' in instance.log(), instance.name
    print(
        f"\nunready {unready_after:.2f} s after the kill; a POST refused in {refused_in * 1000:.0f} ms; "
        f"both ready {ready_after:.2f} s after the database accepted connections again"
    )


def terminate_backends(database_url: str, instances: list[ServiceProcess]) -> int:
    """pg_terminate_backend of every connection the instances hold, as a failover or a proxy restart does."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ANY(%s)",
            ([instance.name for instance in instances],),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_terminated_backends_cost_no_request_a_failure_and_the_consumers_carry_on(
    own_database_url: str, pair: list[ServiceProcess]
) -> None:
    orchestration = pair[0]
    statuses: list[int] = []
    uuids: list[str] = []
    terminated = []

    def post_on_a_new_connection(_: int) -> None:
        # One connection per request, as curl or `requests` without a session do.
        answer = httpx.post(f"{orchestration.url}/v1/tasks", json=BODY, timeout=CLIENT_TIMEOUT_S)
        statuses.append(answer.status_code)
        if answer.status_code == 201:
            uuids.append(answer.json()["task_uuid"])

    with ThreadPoolExecutor(4) as threads:
        burst = threads.map(post_on_a_new_connection, range(40))
        # Mid-burst: idle pooled connections die (the next requests would be handed them), and so do those a
        # statement is running on.
        for answered in (5, 15, 25, 35):
            poll_until(f"{answered} POSTs answered", lambda n=answered: len(statuses) >= n)
            terminated.append(terminate_backends(own_database_url, pair))
        list(burst)
    still_ready = [readiness(instance).status_code for instance in pair]
    with httpx.Client(base_url=orchestration.url, timeout=CLIENT_TIMEOUT_S) as client:
        done = wait_for_tasks(client, uuids)

    assert statuses == [201] * 40, f"{statuses.count(201)} of 40 created: {statuses}"
    assert all(count >= 2 for count in terminated), f"backends terminated each time: {terminated}"
    assert still_ready == [200, 200]
    assert {task["status"] for task in done.values()} == {"complete"}
    assert [instance.process.poll() for instance in pair] == [None, None]
    print(f"\nbackends terminated mid-burst: {terminated}; 40 of 40 POSTs created their task")


# The worker's default (5 s) is shorter than a restart of PostgreSQL may take on a loaded machine (4.9 s seen): the
# step's message then became visible again and the worker rightly ran it again. The outage this test means is one
# shorter than the visibility timeout, so the timeout is made far longer than any restart here.
@pytest.mark.parametrize("worker_options", [["--visibility-timeout", "60"]])
def test_a_step_that_finished_while_the_database_was_down_is_recorded_once_it_is_back_not_run_again(
    own_postgres: OwnPostgres, own_database_url: str, pair: list[ServiceProcess]
) -> None:
    orchestration, worker = pair
    with httpx.Client(base_url=orchestration.url, timeout=CLIENT_TIMEOUT_S) as client:
        body = {"namespace": "examples", "name": "slow", "context": {"ms": 1000}}
        [task_uuid] = [client.post("/v1/tasks", json=body).json()["task_uuid"]]
        poll_until("the step running", lambda: client.get(f"/v1/tasks/{task_uuid}").json()["steps"][0]["attempts"])
        own_postgres.kill()
        # Its outcome is ready while the database is down; the outage stays shorter than the visibility timeout.
        poll_until("the step finished", lambda: "step nap" in worker.log() and "-> complete" in worker.log())
        own_postgres.start()
        poll_until("ready again", lambda: readiness(orchestration).status_code == 200)
        done = wait_for_tasks(client, [task_uuid])
    with psycopg.connect(own_database_url) as conn:
        claims = conn.execute(
            "SELECT attempt, instance FROM tasker.step_transitions WHERE task_uuid = %s AND to_state = 'in_progress'",
            (task_uuid,),
        ).fetchall()
    assert done[task_uuid]["status"] == "complete"
    assert claims == [(1, "worker-1")], "the finished attempt was recorded, not run again"
