"""Load on the reference cluster: `examples/linear` tasks created round-robin over the orchestration instances,
then the database says when each finished, and whether any was lost, duplicated or wrong.

Tasks of one run share a `reason` (the run id): a marker that counts every task the run caused, whatever its
idempotency key, so a duplicate shows. Every POST carries its own idempotency key, so a retried POST cannot create a
second task. A request that was never accepted is a failed creation, counted and shown: it is a miss, not a gap.

Latency is timed from each request's scheduled send (when a paced run meant to send it, or when a saturated run
sent it) to the task's `completed_at`: the time a request waited before the server accepted it counts too
(coordinated omission). Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

from benchlib.stats import percentile

LINEAR = {"namespace": "examples", "name": "linear", "context": {"even_number": 2}}
LAST_RESULT = "65536"  # 2 squared four times
STEPS_PER_TASK = 4
_RETRIES = 3
_POLL = 0.05

COUNTS_SQL = """
SELECT count(*) FILTER (WHERE status IN ('complete', 'error', 'cancelled')), count(*)
FROM tasker.tasks WHERE reason = %(run)s
"""
TASKS_SQL = """
SELECT task_uuid::text, status = 'complete', extract(epoch FROM completed_at)::float8
FROM tasker.tasks WHERE reason = %(run)s
"""
STEPS_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE s.state = 'complete'),
       count(*) FILTER (WHERE s.attempts > 1),
       count(*) FILTER (WHERE s.name = 'square_4' AND s.result::text IS DISTINCT FROM %(last)s)
FROM tasker.steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
WHERE t.reason = %(run)s
"""


@dataclass(frozen=True)
class Creation:
    # Each accepted task and its request's scheduled send, in seconds since the epoch.
    accepted: dict[str, float]
    failed: int
    seconds: float
    client_cpu: float


@dataclass(frozen=True)
class Outcome:
    """What one run asked for, and what the database says about it."""

    run: str
    requested: int
    accepted: int
    # Requests never accepted (all attempts refused or dropped): a run with any is a miss.
    failed: int
    # Tasks of the run the database holds that no request got back: duplicates, or creations whose answer was lost.
    extra: int
    # Accepted tasks that did not complete, or that the database does not hold.
    lost: int
    complete: int
    steps: int
    steps_complete: int
    steps_retried: int
    wrong_results: int
    p50: float
    p99: float
    worst: float
    span: float
    create_seconds: float
    client_cpu: float

    @property
    def tasks_per_second(self) -> float:
        return self.complete / self.span if self.span else 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps_complete / self.span if self.span else 0.0

    @property
    def clean(self) -> bool:
        """Every request accepted once, every task complete with the right result."""
        return self.failed == self.extra == self.lost == self.wrong_results == 0


def new_run_id() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


def _post_all(
    urls: Sequence[str], count: int, run: str, concurrency: int, rate: float | None, keep_alive: bool
) -> tuple[dict[str, float], int]:
    """`concurrency` threads, each with one keep-alive connection per orchestration instance, or a new connection for
    every request (as `curl`, or `requests` without a session, do) when not `keep_alive`; returns each accepted task
    with its request's scheduled send (epoch seconds), and how many requests failed.

    The standard library's client costs a fraction of the CPU an asyncio client does per request (measured:
    httpx.AsyncClient burnt 3.4 ms per POST), and every CPU second the generator saves goes to the cluster.
    """
    accepted: dict[str, float] = {}
    failed: list[int] = []
    next_index = itertools.count()
    started = time.monotonic()
    # Wall clock, to compare with the database's completed_at; the schedule itself runs on the monotonic clock.
    started_wall = time.time()

    def post(connection: http.client.HTTPConnection, body: bytes) -> str | None:
        for _ in range(_RETRIES):
            try:
                connection.request("POST", "/v1/tasks", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                continue
            finally:
                if not keep_alive:
                    connection.close()
            if response.status in (200, 201):
                return str(json.loads(answer)["task_uuid"])
            if response.status < 500:
                return None
        return None

    def worker() -> None:
        connections = [http.client.HTTPConnection(*_host_port(url), timeout=30) for url in urls]
        try:
            while (index := next(next_index)) < count:
                if rate is None:
                    scheduled = started_wall + (time.monotonic() - started)
                else:
                    scheduled = started_wall + index / rate
                    time.sleep(max(0.0, started + index / rate - time.monotonic()))
                body = json.dumps({**LINEAR, "reason": run, "idempotency_key": f"{run}-{index}"}).encode()
                task_uuid = post(connections[index % len(connections)], body)
                if task_uuid is None:
                    failed.append(index)
                else:
                    accepted[task_uuid] = scheduled
        finally:
            for connection in connections:
                connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted, len(failed)


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port


def create_tasks(
    urls: Sequence[str],
    count: int,
    run: str,
    *,
    concurrency: int = 32,
    rate: float | None = None,
    keep_alive: bool = True,
) -> Creation:
    """POST `count` linear tasks round-robin: as fast as accepted, or paced at `rate` per second; over keep-alive
    connections, or one connection per request."""
    cpu = time.process_time()
    started = time.monotonic()
    accepted, failed = _post_all(urls, count, run, concurrency, rate, keep_alive)
    return Creation(accepted, failed, time.monotonic() - started, time.process_time() - cpu)


def wait_finished(database_url: str, run: str, expected: int, timeout: float) -> None:
    """Until the database holds `expected` finished tasks of `run`."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            row = connection.execute(COUNTS_SQL, {"run": run}).fetchone()
            finished = row[0] if row else 0
            if finished >= expected:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{run}: {finished} of {expected} tasks finished after {timeout:.0f} s")
            time.sleep(_POLL)


def outcome(database_url: str, run: str, requested: int, creation: Creation) -> Outcome:
    with psycopg.connect(database_url, autocommit=True) as connection:
        tasks = connection.execute(TASKS_SQL, {"run": run}).fetchall()
        steps = connection.execute(STEPS_SQL, {"run": run, "last": LAST_RESULT}).fetchone()
    assert steps is not None
    completed = {task_uuid: finished for task_uuid, complete, finished in tasks if complete}
    accepted = creation.accepted
    latencies = [completed[task] - sent for task, sent in accepted.items() if task in completed]
    first_send = min(accepted.values(), default=0.0)
    return Outcome(
        run=run,
        requested=requested,
        accepted=len(accepted),
        failed=requested - len(accepted),
        extra=len({task_uuid for task_uuid, _, _ in tasks} - accepted.keys()),
        lost=len(accepted.keys() - completed.keys()),
        complete=len(completed),
        steps=steps[0],
        steps_complete=steps[1],
        steps_retried=steps[2],
        wrong_results=steps[3],
        p50=percentile(latencies, 0.5) if latencies else 0.0,
        p99=percentile(latencies, 0.99) if latencies else 0.0,
        worst=max(latencies, default=0.0),
        # From the first request's send, not its acceptance: time spent waiting to be accepted counts.
        span=max(completed.values(), default=first_send) - first_send,
        create_seconds=creation.seconds,
        client_cpu=creation.client_cpu,
    )


def run_load(
    urls: Sequence[str],
    database_url: str,
    count: int,
    *,
    rate: float | None = None,
    keep_alive: bool = True,
    timeout: float = 300,
) -> Outcome:
    run = new_run_id()
    creation = create_tasks(urls, count, run, rate=rate, keep_alive=keep_alive)
    wait_finished(database_url, run, len(creation.accepted), timeout)
    return outcome(database_url, run, count, creation)
