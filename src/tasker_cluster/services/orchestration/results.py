"""The orchestration's consumer: read step results, advance their tasks' DAGs, finalize finished tasks.

One transaction per batch: read the results, lock their tasks in one order, then advance them all in one
statement that also deletes the results. If the instance dies mid-way, the transaction rolls back and the results
are visible again at once.
"""

from __future__ import annotations

import logging
import uuid

from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.database import retry_transaction
from tasker_cluster.services.common.metrics import QUEUE_LATENCY, STEPS_ENQUEUED, TASKS_FINISHED
from tasker_cluster.services.common.queries import query
from tasker_cluster.services.common.queues import RESULTS_QUEUE
from tasker_cluster.services.common.wakeup import Wakeup

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
        async with self.pool.connection(timeout=30) as conn, conn.transaction():
            cursor = await conn.execute(
                query("read_messages"),
                {"queue": RESULTS_QUEUE, "vt": self.visibility_timeout, "qty": self.batch_size},
            )
            messages = await cursor.fetchall()
            if not messages:
                return 0
            task_uuids: set[uuid.UUID] = set()
            for _msg_id, _read_ct, waited_s, message in messages:
                self._latency.observe(waited_s)
                try:
                    task_uuids.add(uuid.UUID(message["task_uuid"]))
                except (TypeError, KeyError, ValueError):
                    log.warning("dropping a malformed step result: %r", message)
            ordered = sorted(task_uuids)
            await conn.execute(query("lock_tasks"), {"task_uuids": ordered})
            cursor = await conn.execute(
                query("advance_tasks"),
                {"task_uuids": ordered, "queue": RESULTS_QUEUE, "msg_ids": [m[0] for m in messages]},
            )
            row = await cursor.fetchone()
        assert row is not None
        enqueued, _sent, completed, failed = row[0], row[1], row[2], row[3]
        STEPS_ENQUEUED.inc(enqueued)
        for status, finished in (("complete", completed), ("error", failed)):
            for task_uuid in finished:
                log.info("task %s -> %s", task_uuid, status)
            TASKS_FINISHED.labels(status).inc(len(finished))
        return len(messages)
