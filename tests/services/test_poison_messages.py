"""A step result the orchestration cannot process is isolated from its batch, then archived with its reason."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb
from service_instances import ServiceProcess, spawn_service, wait_for_tasks

from tasker_cluster.services.common.queues import RESULTS_QUEUE

pytestmark = pytest.mark.services

GOOD = 10
WAIT_S = 30.0


@pytest.fixture
def pair(database_url: str, tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    instances = [
        spawn_service("orchestration", "orchestration-1", database_url, tmp_path),
        spawn_service("worker", "worker-1", database_url, tmp_path),
    ]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances
    finally:
        for instance in instances:
            instance.process.send_signal(signal.SIGCONT)
            if instance.stopped_with is None:
                instance.terminate()


def queued_results(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM pgmq.q_{RESULTS_QUEUE}").fetchone()
    assert row is not None
    return int(row[0])


def archived(database_url: str, msg_id: int) -> Any:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            f"SELECT read_ct, message, headers FROM pgmq.a_{RESULTS_QUEUE} WHERE msg_id = %s", (msg_id,)
        ).fetchone()


def wait_until(what: str, condition: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    pytest.fail(f"not {what} after {WAIT_S:g} s")


def test_a_poison_result_in_a_backlog_delays_none_of_the_others_and_is_archived_with_its_reason(
    database_url: str, pair: list[ServiceProcess]
) -> None:
    orchestration, worker = pair
    client = httpx.Client(base_url=orchestration.url, timeout=10)
    with client:
        # A backlog read in one batch: the worker holds the steps until the orchestration is paused, so that its
        # 10 results wait in the queue with one that names a queue that does not exist.
        worker.process.send_signal(signal.SIGSTOP)
        body = {"namespace": "examples", "name": "slow", "context": {"ms": 0}}
        uuids = [client.post("/v1/tasks", json=body).json()["task_uuid"] for _ in range(GOOD)]
        orchestration.process.send_signal(signal.SIGSTOP)
        poison = {"task_uuid": str(uuid.uuid4()), "step_uuid": str(uuid.uuid4()), "state": "complete",
                  "attempt": 1, "queue": "worker_nowhere_queue"}  # fmt: skip
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT * FROM pgmq.send(%s, %s)", (RESULTS_QUEUE, Jsonb(poison))).fetchone()
        assert row is not None
        poison_id = row[0]
        worker.process.send_signal(signal.SIGCONT)
        wait_until(f"{GOOD + 1} results queued", lambda: queued_results(database_url) == GOOD + 1)

        resumed = time.monotonic()
        orchestration.process.send_signal(signal.SIGCONT)
        done = wait_for_tasks(client, uuids, timeout=WAIT_S)
        others_s = time.monotonic() - resumed
        moved = wait_until("the poison result archived", lambda: archived(database_url, poison_id))
        archived_s = time.monotonic() - resumed
        metrics = client.get("/metrics").text
        detailed = client.get("/health/detailed").json()

    assert {task["status"] for task in done.values()} == {"complete"}
    read_ct, message, headers = moved
    assert message == poison
    assert read_ct == 3, "archived after a bounded number of reads"
    reason = headers["tasker_archived"]["reason"]
    assert "worker_nowhere_queue" in reason and "does not exist" in reason, reason
    assert headers["tasker_archived"]["instance"] == "orchestration-1"
    assert f'tasker_messages_archived_total{{queue="{RESULTS_QUEUE}"}} 1.0' in metrics
    [consumer] = detailed["consumers"]
    assert consumer["archived"] == 1 and "worker_nowhere_queue" in consumer["last_archived"]["reason"]
    assert queued_results(database_url) == 0
    print(
        f"\n{GOOD} good results completed {others_s:.2f} s after the orchestration resumed; the poison one was "
        f"archived after {read_ct} reads, {archived_s:.2f} s: {json.dumps(headers)}"
    )
