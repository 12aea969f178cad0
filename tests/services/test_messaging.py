"""PGMQ flows: redelivery after the visibility timeout, retries, and the services driven in-process over ASGI."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from service_instances import TEMPLATES

from tasker_cluster.services.common.database import session_conninfo
from tasker_cluster.services.common.queries import query, queue_query
from tasker_cluster.services.common.queues import RESULTS_QUEUE, step_queue
from tasker_cluster.services.common.service import Service
from tasker_cluster.services.common.settings import ServiceSettings
from tasker_cluster.services.common.wake_sender import WakeSender
from tasker_cluster.services.orchestration.service import OrchestrationService
from tasker_cluster.services.worker.service import WorkerService
from tasker_cluster.services.workflow.handlers import HandlerRegistry, StepInput

pytestmark = pytest.mark.messaging

QUEUE = step_queue("examples")
DEADLINE_S = 20.0


def settings_for(url: str, role: str, name: str, **overrides: Any) -> ServiceSettings:
    base = ServiceSettings(role=role, name=name, port=1, database_url=url, poll_interval=0.1)  # type: ignore[arg-type]
    return replace(base, **overrides)


@pytest.fixture
def connect(migrated_database_url: str) -> Iterator[Any]:
    """Connections that name themselves as an instance, as the services' connections do."""
    opened: list[psycopg.Connection[Any]] = []

    def open_as(instance: str) -> psycopg.Connection[Any]:
        settings = settings_for(migrated_database_url, "worker", instance)
        opened.append(psycopg.connect(session_conninfo(settings), autocommit=True))
        return opened[-1]

    yield open_as
    for conn in opened:
        conn.close()


def new_task(conn: psycopg.Connection[Any], name: str = "slow") -> uuid.UUID:
    from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
    from tasker_cluster.services.workflow.templates import load_templates

    template = load_templates(TEMPLATES, EXAMPLE_HANDLERS.names()).find("examples", name)
    assert template is not None
    task_uuid = uuid.uuid4()
    params = {
        "task_uuid": task_uuid, "namespace": "examples", "name": name, "version": template.version,
        "request_body": "{}", "initiator": None, "source_system": None, "reason": None, "tags": Jsonb([]),
        "priority": 0, "idempotency_key": None, "instance": "tests", "queue": QUEUE, "steps": template.steps_json,
    }  # fmt: skip
    conn.execute(queue_query("create_task", QUEUE), params)
    return task_uuid


def purge_step_queue(conn: psycopg.Connection[Any]) -> None:
    """Claims take any visible message: drop what earlier tests in this module's database left behind."""
    conn.execute("SELECT pgmq.purge_queue(%s)", (QUEUE,))


def claim(conn: psycopg.Connection[Any], instance: str, vt: int) -> list[Any]:
    params = {"vt": vt, "qty": 10, "instance": instance}
    return conn.execute(queue_query("claim_steps", QUEUE), params).fetchall()


def record(conn: psycopg.Connection[Any], step_uuid: uuid.UUID, attempt: int) -> int:
    outcomes = [{"step_uuid": str(step_uuid), "attempt": attempt, "state": "complete", "result": 1, "error": None}]
    params = {"outcomes": json.dumps(outcomes), "step_uuids": [str(step_uuid)], "stale_msg_ids": [], "queue": QUEUE}
    row = conn.execute(queue_query("record_outcomes", QUEUE), params).fetchone()
    assert row is not None
    return int(row[0])


def test_a_step_whose_worker_died_is_taken_over_once_its_visibility_timeout_passes(connect: Any) -> None:
    dead, alive = connect("worker-dead"), connect("worker-alive")
    task_uuid = new_task(connect("orchestration-1"))
    (first,) = claim(dead, "worker-dead", vt=1)
    msg_id, step_uuid = first[0], first[2]
    assert claim(alive, "worker-alive", vt=30) == [], "a claimed message stays hidden while its timeout runs"

    deadline = time.monotonic() + DEADLINE_S
    taken_over: list[Any] = []
    while not taken_over and time.monotonic() < deadline:
        time.sleep(0.1)
        taken_over = claim(alive, "worker-alive", vt=30)
    assert [(row[0], row[2], row[6]) for row in taken_over] == [(msg_id, step_uuid, 2)]

    assert record(dead, step_uuid, attempt=1) == 0, "the dead worker's attempt must not record anything"
    assert record(alive, step_uuid, attempt=2) == 1
    history = alive.execute(
        "SELECT attempt, from_state, to_state, instance FROM tasker.step_transitions WHERE step_uuid = %s ORDER BY id",
        (step_uuid,),
    ).fetchall()
    assert history == [
        (0, None, "pending", "orchestration-1"),
        (0, "pending", "enqueued", "orchestration-1"),
        (1, "enqueued", "in_progress", "worker-dead"),
        (2, "in_progress", "in_progress", "worker-alive"),
        (1, "in_progress", "refused", "worker-dead"),
        (2, "in_progress", "complete", "worker-alive"),
    ]
    results = alive.execute(
        "SELECT message FROM pgmq.q_orchestration_step_results WHERE message->>'task_uuid' = %s", (str(task_uuid),)
    ).fetchall()
    assert [r[0]["attempt"] for r in results] == [2]
    assert alive.execute(
        "SELECT count(*) FROM pgmq.q_worker_examples_queue WHERE msg_id = %s", (msg_id,)
    ).fetchone() == (0,)


def cancel(conn: psycopg.Connection[Any], task_uuid: uuid.UUID) -> None:
    """The orchestration's cancel: the task, then its unfinished steps, in one transaction."""
    with conn.transaction():
        conn.execute(query("cancel_task"), {"task_uuid": task_uuid})
        conn.execute(query("cancel_open_steps"), {"task_uuids": [task_uuid]})


def step_history(conn: psycopg.Connection[Any], step_uuid: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT attempt, from_state, to_state, instance FROM tasker.step_transitions WHERE step_uuid = %s ORDER BY id",
        (step_uuid,),
    ).fetchall()


def queued(conn: psycopg.Connection[Any], msg_id: int) -> bool:
    row = conn.execute("SELECT count(*) FROM pgmq.q_worker_examples_queue WHERE msg_id = %s", (msg_id,)).fetchone()
    return row == (1,)


def test_the_late_outcome_of_a_step_cancelled_while_it_ran_is_refused_and_its_message_deleted(connect: Any) -> None:
    orchestration, worker = connect("orchestration-1"), connect("worker-1")
    purge_step_queue(orchestration)
    task_uuid = new_task(orchestration)
    [(msg_id, _, step_uuid, *_)] = claim(worker, "worker-1", vt=30)
    cancel(orchestration, task_uuid)

    assert record(worker, step_uuid, attempt=1) == 0, "a cancelled step's outcome must not be recorded"
    step = worker.execute("SELECT state, attempts, result FROM tasker.steps WHERE step_uuid = %s", (step_uuid,))
    assert step.fetchone() == ("cancelled", 1, None)
    assert step_history(worker, step_uuid)[2:] == [
        (1, "enqueued", "in_progress", "worker-1"),
        (1, "in_progress", "cancelled", "orchestration-1"),
        (1, "cancelled", "refused", "worker-1"),
    ]
    results = worker.execute(
        "SELECT count(*) FROM pgmq.q_orchestration_step_results WHERE message->>'task_uuid' = %s", (str(task_uuid),)
    ).fetchone()
    assert results == (0,), "nothing is reported to the orchestration"
    assert not queued(worker, msg_id), "the cancelled attempt's message is deleted with its refused outcome"


def test_a_step_cancelled_while_its_worker_was_dead_is_never_taken_over(connect: Any) -> None:
    orchestration, dead, alive = connect("orchestration-1"), connect("worker-dead"), connect("worker-alive")
    purge_step_queue(orchestration)
    task_uuid = new_task(orchestration)
    [(msg_id, _, step_uuid, *_)] = claim(dead, "worker-dead", vt=0)  # vt=0: its visibility timeout has passed
    cancel(orchestration, task_uuid)

    [(again, _, left_behind, *_)] = claim(alive, "worker-alive", vt=30)
    assert (again, left_behind) == (msg_id, None), "the message comes back for deletion, its step unclaimed"
    assert step_history(alive, step_uuid)[-1] == (1, "in_progress", "cancelled", "orchestration-1")
    assert record(dead, step_uuid, attempt=1) == 0
    assert step_history(alive, step_uuid)[-1] == (1, "cancelled", "refused", "worker-dead")


def bookkeeping(conn: psycopg.Connection[Any], queue: str, msg_id: int) -> tuple[Any, ...]:
    """A message's PGMQ columns, as comparable values: read count, read or not, visibility window, headers."""
    row = conn.execute(
        sql.SQL(
            "SELECT read_ct, last_read_at IS NOT NULL, round(extract(epoch FROM vt - coalesce(last_read_at,"
            " enqueued_at)))::int, headers, enqueued_at <= clock_timestamp() FROM pgmq.{} WHERE msg_id = %s"
        ).format(sql.Identifier(f"q_{queue}")),
        (msg_id,),
    ).fetchone()
    assert row is not None, f"message {msg_id} is not in {queue}"
    return tuple(row)


def test_the_inlined_queue_statements_keep_pgmqs_own_bookkeeping(connect: Any) -> None:
    conn = connect("orchestration-1")
    purge_step_queue(conn)
    conn.execute("SELECT pgmq.purge_queue(%s)", (RESULTS_QUEUE,))
    # Sending: create_task's INSERT against pgmq.send.
    task_uuid = new_task(conn)
    [(ours,)] = conn.execute(sql.SQL("SELECT msg_id FROM pgmq.{}").format(sql.Identifier(f"q_{QUEUE}"))).fetchall()
    [(theirs,)] = conn.execute("SELECT pgmq.send(%s, '{}'::jsonb)", (QUEUE,)).fetchall()
    assert bookkeeping(conn, QUEUE, ours) == bookkeeping(conn, QUEUE, theirs) == (0, False, 0, None, True)
    # Reading: claim_steps against pgmq.read, both hiding the message for 30 s.
    conn.execute("SELECT pgmq.set_vt(%s, %s, 3600)", (QUEUE, theirs))
    [claimed] = claim(conn, "worker-1", vt=30)
    assert (claimed[0], claimed[3]) == (ours, task_uuid)
    conn.execute("SELECT pgmq.set_vt(%s, %s, 0)", (QUEUE, theirs))
    assert [row[0] for row in conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, 10)", (QUEUE,))] == [theirs]
    assert bookkeeping(conn, QUEUE, ours) == bookkeeping(conn, QUEUE, theirs) == (1, True, 30, None, True)
    # The results queue: read_results against pgmq.read, delete_results against pgmq.delete (no archive).
    sent = conn.execute("SELECT pgmq.send(%s, m) FROM unnest(%s::jsonb[]) AS m", (RESULTS_QUEUE, ["{}", "{}"]))
    first, second = [msg_id for (msg_id,) in sent.fetchall()]
    [(read_by_us, *_)] = conn.execute(query("read_results"), {"vt": 30, "qty": 1}).fetchall()
    [(read_by_pgmq,)] = conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, 1)", (RESULTS_QUEUE,)).fetchall()
    assert (read_by_us, read_by_pgmq) == (first, second), "both take the oldest visible message"
    assert bookkeeping(conn, RESULTS_QUEUE, first) == bookkeeping(conn, RESULTS_QUEUE, second)
    conn.execute(query("delete_results"), {"msg_ids": [first]})
    conn.execute("SELECT pgmq.delete(%s, %s::bigint)", (RESULTS_QUEUE, second))
    metrics = conn.execute("SELECT queue_length FROM pgmq.metrics(%s)", (RESULTS_QUEUE,)).fetchone()
    archived = conn.execute(sql.SQL("SELECT count(*) FROM pgmq.{}").format(sql.Identifier(f"a_{RESULTS_QUEUE}")))
    assert (metrics, archived.fetchone()) == ((0,), (0,))


def test_a_step_whose_workers_keep_dying_fails_once_its_attempts_are_spent_instead_of_looping(connect: Any) -> None:
    # A poison message: every worker that claims it dies (vt=0 stands for "its visibility timeout passed").
    orchestration = connect("orchestration-1")
    purge_step_queue(orchestration)
    task_uuid = new_task(orchestration)  # examples/slow: max_attempts = 3
    claimers = [connect(f"worker-{n}") for n in (1, 2, 3, 4)]
    rows = [claim(conn, f"worker-{n}", vt=0) for n, conn in enumerate(claimers, start=1)]

    assert [row[0][6] for row in rows[:3]] == [1, 2, 3], "attempts 2 and 3 take over the dead workers' attempts"
    [(msg_id, _, step_uuid, *_)] = rows[3]
    assert step_uuid is None, "no attempt is left to take over: the message comes back for deletion"
    step = orchestration.execute(
        "SELECT state, attempts, error FROM tasker.steps WHERE task_uuid = %s", (task_uuid,)
    ).fetchone()
    assert step is not None and step[:2] == ("error", 3)
    assert "attempt 3 of 3" in step[2] and "stopped" in step[2]
    last = orchestration.execute(
        "SELECT attempt, from_state, to_state, instance FROM tasker.step_transitions WHERE task_uuid = %s"
        " ORDER BY id DESC LIMIT 1",
        (task_uuid,),
    ).fetchone()
    assert last == (3, "in_progress", "error", "worker-4")
    reported = orchestration.execute(
        "SELECT message FROM pgmq.q_orchestration_step_results WHERE message->>'task_uuid' = %s", (str(task_uuid),)
    ).fetchall()
    assert [(r[0]["state"], r[0]["attempt"], r[0]["queue"]) for r in reported] == [("error", 3, QUEUE)]
    orchestration.execute(queue_query("advance_tasks", QUEUE), {"task_uuids": [task_uuid], "queue": QUEUE})
    status = orchestration.execute("SELECT status FROM tasker.tasks WHERE task_uuid = %s", (task_uuid,)).fetchone()
    assert status == ("error",)
    assert msg_id in [row[0] for row in rows[0]], "the same message every time"


# --- the services in-process ------------------------------------------------------------------------------------


@asynccontextmanager
async def serving(*services: Service) -> AsyncIterator[list[httpx.AsyncClient]]:
    for service in services:
        await service.start()
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=s.app), base_url="http://service") for s in services]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for service in services:
            await service.stop(grace=2)


async def wait_for_status(client: httpx.AsyncClient, task_uuid: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        task = (await client.get(f"/v1/tasks/{task_uuid}")).json()
        if task["status"] in statuses:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_uuid} not {statuses} after {DEADLINE_S} s: {task}")


def run_one_task_to_its_end(orchestration: Service, worker: Service, namespace: str, name: str) -> dict[str, Any]:
    """Prepare both services, serve them, create one task and return its view once it is finished."""
    for service in (orchestration, worker):
        service.prepare()

    async def scenario() -> dict[str, Any]:
        async with serving(orchestration, worker) as (client, _):
            created = await client.post("/v1/tasks", json={"namespace": namespace, "name": name})
            assert created.status_code == 201, created.text
            return await wait_for_status(client, created.json()["task_uuid"], {"error", "complete", "cancelled"})

    return asyncio.run(scenario())


def test_a_failing_handler_is_retried_with_backoff_then_fails_its_task(
    migrated_database_url: str, tmp_path: Path
) -> None:
    handlers = HandlerRegistry()

    @handlers.register("boom")
    def boom(step: StepInput) -> None:
        raise ValueError(f"boom on attempt {step.attempt}")

    handlers.register("never")(lambda step: None)
    (tmp_path / "flaky.toml").write_text(
        'namespace = "flaky"\nname = "boom"\n'
        '[[steps]]\nname = "explode"\nhandler = "boom"\nmax_attempts = 3\nretry_backoff_ms = 20\n'
        '[[steps]]\nname = "after"\nhandler = "never"\ndepends_on = ["explode"]\n'
    )
    orchestration = OrchestrationService(
        settings_for(migrated_database_url, "orchestration", "orch-retry", templates_dir=tmp_path), handlers
    )
    worker = WorkerService(
        settings_for(migrated_database_url, "worker", "worker-retry", namespaces=("flaky",)), handlers
    )
    task = run_one_task_to_its_end(orchestration, worker, "flaky", "boom")
    explode, after = task["steps"]
    assert task["status"] == "error"
    assert (explode["status"], explode["attempts"], explode["error"]) == ("error", 3, "ValueError: boom on attempt 3")
    assert (after["status"], after["attempts"]) == ("cancelled", 0)
    with psycopg.connect(migrated_database_url) as conn:
        states = conn.execute(
            "SELECT attempt, to_state FROM tasker.step_transitions t JOIN tasker.steps s USING (step_uuid)"
            " WHERE s.task_uuid = %s AND s.name = 'explode' ORDER BY t.id",
            (task["task_uuid"],),
        ).fetchall()
    assert states == [
        (0, "pending"), (0, "enqueued"),
        (1, "in_progress"), (1, "waiting_for_retry"), (1, "enqueued"),
        (2, "in_progress"), (2, "waiting_for_retry"), (2, "enqueued"),
        (3, "in_progress"), (3, "error"),
    ]  # fmt: skip


def test_a_result_postgresql_cannot_store_fails_its_own_step_not_the_steps_recorded_with_it(
    migrated_database_url: str, tmp_path: Path
) -> None:
    handlers = HandlerRegistry()
    handlers.register("fine")(lambda step: {"ok": True})
    handlers.register("nan")(lambda step: {"ratio": float("nan")})
    handlers.register("nul")(lambda step: "a\x00b")

    @handlers.register("nul_error")
    def nul_error(step: StepInput) -> None:
        raise ValueError("bad byte \x00 here")

    steps = "".join(f'[[steps]]\nname = "{name}"\nhandler = "{name}"\nmax_attempts = 1\n' for name in handlers.names())
    (tmp_path / "unstorable.toml").write_text(f'namespace = "unstorable"\nname = "mixed"\n{steps}')
    orchestration = OrchestrationService(
        settings_for(migrated_database_url, "orchestration", "orch-unstorable", templates_dir=tmp_path), handlers
    )
    # A batch's outcomes are recorded by one statement: all four steps are claimed together, so one unstorable
    # value would make the statement fail for all of them, again on every attempt.
    worker = WorkerService(
        settings_for(migrated_database_url, "worker", "worker-unstorable", namespaces=("unstorable",),
                     visibility_timeout=1),
        handlers,
    )  # fmt: skip
    task = run_one_task_to_its_end(orchestration, worker, "unstorable", "mixed")
    by_name = {step["name"]: step for step in task["steps"]}
    assert (by_name["fine"]["status"], by_name["fine"]["result"]) == ("complete", {"ok": True})
    assert by_name["nan"]["status"] == "error" and "finite" in by_name["nan"]["error"]
    assert by_name["nul"]["status"] == "error" and "NUL" in by_name["nul"]["error"]
    assert by_name["nul_error"]["status"] == "error" and by_name["nul_error"]["error"].startswith("ValueError: bad")
    assert {step["attempts"] for step in task["steps"]} == {1}


def test_a_worker_meeting_a_step_with_no_attempt_left_fails_its_task_and_drops_the_message(
    migrated_database_url: str, connect: Any
) -> None:
    creator = connect("orchestration-1")
    purge_step_queue(creator)
    task_uuid = new_task(creator)  # examples/slow: max_attempts = 3
    for n in (1, 2, 3):
        [(msg_id, *_)] = claim(connect(f"dead-worker-{n}"), f"dead-worker-{n}", vt=0)
    orchestration = OrchestrationService(
        settings_for(migrated_database_url, "orchestration", "orch-poison", templates_dir=TEMPLATES)
    )
    worker = WorkerService(settings_for(migrated_database_url, "worker", "worker-poison"))
    for service in (orchestration, worker):
        service.prepare()

    async def scenario() -> dict[str, Any]:
        async with serving(orchestration, worker) as (client, _):
            return await wait_for_status(client, str(task_uuid), {"error", "complete", "cancelled"})

    task = asyncio.run(scenario())
    [step] = task["steps"]
    assert task["status"] == "error"
    assert (step["status"], step["attempts"], step["processed_by"]) == ("error", 3, "dead-worker-3")
    with psycopg.connect(migrated_database_url) as conn:
        left = conn.execute("SELECT count(*) FROM pgmq.q_worker_examples_queue WHERE msg_id = %s", (msg_id,))
        assert left.fetchone() == (0,)


def test_a_request_gets_503_with_retry_after_while_every_connection_is_busy(migrated_database_url: str) -> None:
    settings = settings_for(
        migrated_database_url, "orchestration", "orch-busy", templates_dir=TEMPLATES, pool_min=1, pool_max=2,
        pool_timeout=0.2,
    )  # fmt: skip
    orchestration = OrchestrationService(settings)
    orchestration.prepare()
    body = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}}

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with serving(orchestration) as (client,):
            held = [await orchestration.pool.getconn(timeout=5) for _ in range(settings.pool_max)]
            try:
                refused = await client.post("/v1/tasks", json=body)
            finally:
                for conn in held:
                    await orchestration.pool.putconn(conn)
            accepted = await client.post("/v1/tasks", json=body)
        return refused, accepted

    refused, accepted = asyncio.run(scenario())
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "busy" in refused.json()["error"]
    assert accepted.status_code == 201


def test_ready_answers_503_naming_each_missing_check_until_the_instance_really_runs(migrated_database_url: str) -> None:
    worker = WorkerService(settings_for(migrated_database_url, "worker", "worker-ready", namespaces=("ready",)))
    worker.prepare()

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=worker.app), base_url="http://w") as client:
            before = await client.get("/health/ready")
            await worker.start()
            deadline = time.monotonic() + DEADLINE_S
            running = await client.get("/health/ready")
            while running.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                running = await client.get("/health/ready")
            await worker.stop(grace=2)
            after = await client.get("/health/ready")
        return before, running, after

    before, running, after = asyncio.run(scenario())
    assert before.status_code == 503
    assert before.json()["failed"] == ["database", "consumers"]
    assert before.json()["checks"]["database"]["detail"] == "connection pool is closed"
    assert running.status_code == 200, running.text
    assert after.status_code == 503 and "database" in after.json()["failed"]


def test_a_worker_busy_with_long_steps_stays_ready_but_one_whose_reads_keep_failing_does_not(
    migrated_database_url: str, tmp_path: Path
) -> None:
    handlers = HandlerRegistry()
    released: dict[str, asyncio.Event] = {}

    @handlers.register("hold")
    async def hold(step: StepInput) -> int:
        await released["step"].wait()
        return 1

    (tmp_path / "busy.toml").write_text('namespace = "busy"\nname = "hold"\n[[steps]]\nname = "a"\nhandler = "hold"\n')
    orchestration = OrchestrationService(
        settings_for(migrated_database_url, "orchestration", "orch-busy", templates_dir=tmp_path), handlers
    )
    worker = WorkerService(
        settings_for(migrated_database_url, "worker", "worker-busy", namespaces=("busy",), concurrency=1), handlers
    )
    for service in (orchestration, worker):
        service.prepare()

    def as_if_a_minute_passed() -> None:
        for consumer in worker.consumers:
            assert consumer.last_success is not None
            consumer.last_success -= 60

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        released["step"] = asyncio.Event()
        async with serving(orchestration, worker) as (client, worker_client):
            created = (await client.post("/v1/tasks", json={"namespace": "busy", "name": "hold"})).json()
            await wait_for_step_status(client, created["task_uuid"], "in_progress")
            # Its only slot is taken: the consumer waits for capacity and reads nothing, for as long as the step runs.
            as_if_a_minute_passed()
            busy = await worker_client.get("/health/ready")
            released["step"].set()
            await wait_for_status(client, created["task_uuid"], {"complete"})
            async with await psycopg.AsyncConnection.connect(migrated_database_url, autocommit=True) as conn:
                await conn.execute("SELECT pgmq.drop_queue('worker_busy_queue')")
            deadline = time.monotonic() + DEADLINE_S
            while not all(c.last_error for c in worker.consumers) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            as_if_a_minute_passed()
            failing = await worker_client.get("/health/ready")
        return busy, failing

    busy, failing = asyncio.run(scenario())
    assert busy.status_code == 200, busy.text
    assert failing.status_code == 503 and failing.json()["failed"] == ["database"], failing.text
    assert "worker_busy_queue" in failing.json()["checks"]["database"]["detail"]


async def wait_for_step_status(client: httpx.AsyncClient, task_uuid: str, status: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        task = (await client.get(f"/v1/tasks/{task_uuid}")).json()
        if task["steps"][0]["status"] == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"step of task {task_uuid} not {status} after {DEADLINE_S} s: {task}")


def test_wake_ups_asked_for_within_the_interval_become_one_later_wake_up(migrated_database_url: str) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        listener = await psycopg.AsyncConnection.connect(migrated_database_url, autocommit=True)
        await listener.execute('LISTEN "tasker_some_queue"')
        pool = AsyncConnectionPool(
            migrated_database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
        )
        await pool.open(wait=True)
        sender = WakeSender(pool, interval=0.2)
        try:
            async with pool.connection() as conn:
                for _ in range(5):
                    await sender.wake(conn, ["some_queue"])
            heard = [n.channel async for n in listener.notifies(timeout=DEADLINE_S, stop_after=2)]
            more = [n.channel async for n in listener.notifies(timeout=0.5)]
        finally:
            await sender.close()
            await pool.close()
            await listener.close()
        return heard, more

    heard, more = asyncio.run(scenario())
    assert heard == ["tasker_some_queue", "tasker_some_queue"], "one at once, one deferred for the other four"
    assert more == []
