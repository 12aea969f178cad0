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
from typing import Any

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


class ResultConsumer(QueueConsumer):
    def __init__(
        self,
        *,
        index: int,
        pool: AsyncConnectionPool,
        wakeup: Wakeup,
        batch_size: int,
        poll_interval: float,
        batch_window: float,
        visibility_timeout: int,
        waker: WakeSender,
    ) -> None:
        super().__init__(f"results-{index}", RESULTS_QUEUE, wakeup, poll_interval, batch_window)
        self.pool = pool
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.waker = waker
        self._latency = QUEUE_LATENCY.labels(RESULTS_QUEUE)

    async def poll_once(self) -> bool:
        async with self.pool.connection(timeout=30) as conn:
            cursor = await conn.execute(query("read_results"), {"vt": self.visibility_timeout, "qty": self.batch_size})
            messages = await cursor.fetchall()
            if not messages:
                return False
            by_queue = self._tasks_by_queue(messages)
            msg_ids = [message[0] for message in messages]
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
        return len(messages) == self.batch_size

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

    def _tasks_by_queue(self, messages: list[Any]) -> dict[str, list[uuid.UUID]]:
        """The tasks each result names, grouped by the step queue it came from."""
        by_queue: dict[str, set[uuid.UUID]] = defaultdict(set)
        for _msg_id, waited_s, message in messages:
            self._latency.observe(waited_s)
            try:
                by_queue[str(message["queue"])].add(uuid.UUID(message["task_uuid"]))
            except (TypeError, KeyError, ValueError):
                log.warning("dropping a malformed step result: %r", message)
        return {queue: sorted(uuids) for queue, uuids in by_queue.items()}

    def _account(self, enqueued: int, completed: list[uuid.UUID], failed: list[uuid.UUID]) -> None:
        STEPS_ENQUEUED.inc(enqueued)
        for status, finished in (("complete", completed), ("error", failed)):
            for task_uuid in finished:
                log.info("task %s -> %s", task_uuid, status)
            TASKS_FINISHED.labels(status).inc(len(finished))
