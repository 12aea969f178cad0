"""The orchestration's consumer: read step results, advance their tasks' DAGs, finalize finished tasks.

One transaction per batch: read the results, lock their tasks in one order, advance them (one statement per step
queue, i.e. per namespace) and delete the results. If the instance dies mid-way, the transaction rolls back and
the results are visible again at once.
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
        visibility_timeout: int,
    ) -> None:
        super().__init__(f"results-{index}", RESULTS_QUEUE, wakeup, poll_interval)
        self.pool = pool
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self._latency = QUEUE_LATENCY.labels(RESULTS_QUEUE)

    async def poll_once(self) -> int:
        return await retry_transaction(self._advance_batch, "advance tasks")

    async def _advance_batch(self) -> int:
        async with self.pool.connection(timeout=30) as conn:
            return await self._advance_batch_on(conn)

    async def _advance_batch_on(self, conn: AsyncConnection[Any]) -> int:
        async with conn.transaction():
            cursor = await conn.execute(query("read_results"), {"vt": self.visibility_timeout, "qty": self.batch_size})
            messages = await cursor.fetchall()
            if not messages:
                return 0
            by_queue = self._tasks_by_queue(messages)
            # The rest of the transaction in one round trip: its statements need nothing from each other.
            async with conn.pipeline():
                await conn.execute(query("lock_tasks"), {"task_uuids": sorted(set().union(*by_queue.values()))})
                advanced = []
                for queue, uuids in sorted(by_queue.items()):
                    params = {"task_uuids": uuids, "queue": queue}
                    advanced.append((queue, await conn.execute(queue_query("advance_tasks", queue), params)))
                await conn.execute(query("delete_results"), {"msg_ids": [m[0] for m in messages]})
        wakes: set[tuple[str, str]] = set()
        for queue, cursor in advanced:
            row = await cursor.fetchone()
            assert row is not None
            enqueued, enqueued_now, completed, failed, _cancelled_steps, retry_delays_ms = row
            self._account(enqueued, completed, failed)
            if enqueued_now:
                wakes.add((queue, ""))
            wakes.update((queue, str(delay_ms)) for delay_ms in retry_delays_ms)
        ordered = sorted(wakes)
        await wake_consumers(conn, [queue for queue, _ in ordered], [payload for _, payload in ordered])
        return len(messages)

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
