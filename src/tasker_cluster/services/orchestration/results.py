"""The orchestration's consumer: read step results, advance their tasks' DAGs, finalize finished tasks.

Per batch: read the results (hiding them for the visibility timeout), then one transaction that locks their tasks
in one order, advances them (one statement per step queue, i.e. per namespace) and deletes the results. If the
instance dies in between, the results become visible again after the timeout and another instance advances the
tasks; advancing twice changes nothing, as every change is guarded.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any, NamedTuple

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.database import retry_transaction
from tasker_cluster.services.common.metrics import QUEUE_LATENCY, STEPS_ENQUEUED, TASKS_FINISHED
from tasker_cluster.services.common.queries import query, queue_query
from tasker_cluster.services.common.queues import RESULTS_QUEUE
from tasker_cluster.services.common.wake_sender import WakeSender
from tasker_cluster.services.common.wakeup import Wakeup, wake_consumers

log = logging.getLogger("tasker.orchestration")


# A result the database refuses is read this many times, a short while apart, before it is archived: a refusal
# that a moment can cure (a queue created late) gets its chance, and a lasting one blocks nothing for long.
_MAX_READS = 3
_RETRY_DELAY_S = 1


class Result(NamedTuple):
    """A step result as read_results returns it."""

    msg_id: int
    waited_s: float
    body: Any
    read_ct: int


class ResultConsumer(QueueConsumer):
    def __init__(
        self,
        *,
        index: int,
        instance: str,
        pool: AsyncConnectionPool,
        wakeup: Wakeup,
        batch_size: int,
        poll_interval: float,
        batch_window: float,
        visibility_timeout: int,
        waker: WakeSender,
    ) -> None:
        super().__init__(f"results-{index}", RESULTS_QUEUE, wakeup, poll_interval, batch_window)
        self.instance = instance
        self.pool = pool
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.waker = waker
        self._latency = QUEUE_LATENCY.labels(RESULTS_QUEUE)

    async def poll_once(self) -> bool:
        async with self.pool.connection(timeout=30) as conn:
            cursor = await conn.execute(query("read_results"), {"vt": self.visibility_timeout, "qty": self.batch_size})
            messages = [Result(*row) for row in await cursor.fetchall()]
            if not messages:
                return False
            for message in messages:
                self._latency.observe(message.waited_s)
            try:
                await self._advance_batch(conn, messages)
            except psycopg.Error as error:
                if not refused_by_database(error):
                    raise
                # One result the database refuses fails the whole batch's transaction, every time it is read: the
                # results go one by one instead, so that the others proceed now and only the culprit is retried.
                log.warning("a batch of %d step results failed (%s); advancing them one by one", len(messages), error)
                for message in messages:
                    await self._advance_alone(conn, message)
        return len(messages) == self.batch_size

    async def _advance_alone(self, conn: AsyncConnection[Any], message: Result) -> None:
        try:
            await self._advance_batch(conn, [message])
        except psycopg.Error as error:
            if not refused_by_database(error):
                raise
            await self._set_aside(conn, message, str(error).strip().splitlines()[0])

    async def _set_aside(self, conn: AsyncConnection[Any], message: Result, reason: str) -> None:
        """Archive a result the database refused on each of its last reads, or try it again after a short delay."""
        if message.read_ct < _MAX_READS:
            delay = _RETRY_DELAY_S * message.read_ct
            log.warning(
                "step result %d failed on read %d (%s); trying it again in %d s",
                message.msg_id,
                message.read_ct,
                reason,
                delay,
            )
            params = {"queue": RESULTS_QUEUE, "msg_ids": [message.msg_id], "vt": delay}
            await conn.execute(query("extend_visibility"), params)
            return
        await self._archive(conn, message, f"{reason} (on each of {message.read_ct} reads)")

    async def _archive(self, conn: AsyncConnection[Any], message: Result, reason: str) -> None:
        params = {"msg_id": message.msg_id, "reason": reason, "instance": self.instance}
        await conn.execute(query("archive_result"), params)
        log.error("archived step result %d, which cannot be processed: %s: %r", message.msg_id, reason, message.body)
        self.count_archived(message.msg_id, reason)

    async def _advance_batch(self, conn: AsyncConnection[Any], messages: list[Result]) -> None:
        """Advance the tasks the results name and consume the results; archive those that name no task."""
        by_queue, malformed = _tasks_by_queue(messages)
        for message, problem in malformed:
            await self._archive(conn, message, f"malformed step result: {problem}")
        unusable = {message.msg_id for message, _ in malformed}
        msg_ids = [message.msg_id for message in messages if message.msg_id not in unusable]
        if not msg_ids:
            return
        outcomes = await retry_transaction(lambda: self._advance(conn, by_queue, msg_ids), "advance tasks")
        ready_now: list[str] = []
        delayed: set[tuple[str, str]] = set()
        for queue, (enqueued, enqueued_now, completed, failed, _cancelled, retry_delays_ms) in outcomes.items():
            self._account(enqueued, completed, failed)
            if enqueued_now:
                ready_now.append(queue)
            delayed.update((queue, str(delay_ms)) for delay_ms in retry_delays_ms)
        await self.waker.wake(conn, ready_now)
        if delayed:
            # Rare (retries), and each carries its own delay: sent as they are.
            ordered = sorted(delayed)
            await wake_consumers(conn, [queue for queue, _ in ordered], [payload for _, payload in ordered])

    async def _advance(
        self, conn: AsyncConnection[Any], by_queue: dict[str, list[uuid.UUID]], msg_ids: list[int]
    ) -> dict[str, tuple[Any, ...]]:
        """One round trip, as these statements need nothing from each other: lock, advance, consume, commit."""
        queues = sorted(by_queue)
        task_uuids = sorted(set().union(*by_queue.values()))
        async with conn.pipeline(), conn.transaction():
            await conn.execute(query("lock_tasks"), {"task_uuids": task_uuids})
            advanced = {}
            for queue in queues:
                params = {"task_uuids": by_queue[queue], "queue": queue}
                advanced[queue] = await conn.execute(queue_query("advance_tasks", queue), params)
            await conn.execute(query("delete_results"), {"msg_ids": msg_ids})
        return {queue: tuple(await cursor.fetchone() or ()) for queue, cursor in advanced.items()}

    def _account(self, enqueued: int, completed: list[uuid.UUID], failed: list[uuid.UUID]) -> None:
        STEPS_ENQUEUED.inc(enqueued)
        for status, finished in (("complete", completed), ("error", failed)):
            for task_uuid in finished:
                log.info("task %s -> %s", task_uuid, status)
            TASKS_FINISHED.labels(status).inc(len(finished))


def refused_by_database(error: psycopg.Error) -> bool:
    """The database refused a statement for what it was given (a missing table, a bad value), as opposed to being
    unreachable or breaking a deadlock (OperationalError): what trying the same results again soon cannot fix."""
    return not isinstance(error, psycopg.OperationalError)


def _tasks_by_queue(messages: list[Result]) -> tuple[dict[str, list[uuid.UUID]], list[tuple[Result, str]]]:
    """The tasks the results name, grouped by the step queue each came from; and the results that name none."""
    by_queue: dict[str, set[uuid.UUID]] = defaultdict(set)
    malformed: list[tuple[Result, str]] = []
    for message in messages:
        try:
            by_queue[str(message.body["queue"])].add(uuid.UUID(message.body["task_uuid"]))
        except (TypeError, KeyError, ValueError) as error:
            malformed.append((message, f"{type(error).__name__}: {error}"))
    return {queue: sorted(uuids) for queue, uuids in by_queue.items()}, malformed
