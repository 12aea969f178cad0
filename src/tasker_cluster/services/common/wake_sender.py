"""Ring a queue's consumers at most once per interval: a wake-up asked for sooner follows at the interval's end.

PostgreSQL signals every listening backend of a database for every NOTIFY, whatever its channel, and every
consumer that hears one goes and reads. Under load, one wake-up per queue and interval tells the consumers as much
as one per commit did, at a fraction of the cost (measured: several hundred NOTIFYs a second, each waking six
backends and six processes). A wake-up is always sent after the commit that asked for it, never before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.wakeup import wake_consumers

log = logging.getLogger("tasker.wakeup")

_DEFERRED_CONNECTION_TIMEOUT_S = 5.0


class WakeSender:
    def __init__(self, pool: AsyncConnectionPool, interval: float) -> None:
        self._pool = pool
        self._interval = interval
        self._last_sent: dict[str, float] = {}
        # Queues with a deferred wake-up that has not started sending yet: a commit seen while one is scheduled is
        # covered by it, as it goes out later.
        self._scheduled: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def wake(self, conn: psycopg.AsyncConnection[Any], queues: Sequence[str]) -> None:
        """After a commit that sent to `queues`: ring those not rung within the interval now, on `conn`."""
        due = self.take_due(queues)
        self.defer([queue for queue in queues if queue not in due])
        await wake_consumers(conn, due, [""] * len(due))

    def take_due(self, queues: Sequence[str]) -> list[str]:
        """The queues that may be rung now, counted as rung: the caller notifies them after its commit (the same
        pipeline saves a round trip), and calls `defer` after its commit for the others."""
        now = time.monotonic()
        due = []
        for queue in queues:
            last = self._last_sent.get(queue)
            if last is None or now - last >= self._interval:
                self._last_sent[queue] = now
                due.append(queue)
        return due

    def defer(self, queues: Sequence[str]) -> None:
        """After a commit: a wake-up for each queue goes out at the end of its interval (one already scheduled and
        not yet sent covers this commit too)."""
        now = time.monotonic()
        for queue in queues:
            if queue in self._scheduled:
                continue
            delay = max(0.0, self._last_sent.get(queue, now) + self._interval - now)
            task = asyncio.create_task(self._send_later(queue, delay), name=f"wake:{queue}")
            self._scheduled[queue] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_later(self, queue: str, delay: float) -> None:
        await asyncio.sleep(delay)
        del self._scheduled[queue]
        self._last_sent[queue] = time.monotonic()
        try:
            async with self._pool.connection(timeout=_DEFERRED_CONNECTION_TIMEOUT_S) as conn:
                await wake_consumers(conn, [queue], [""])
        except (psycopg.Error, OSError) as error:
            # The consumers' polling fallback still finds the messages.
            log.warning("could not wake the consumers of %s: %s", queue, error)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._scheduled.clear()
