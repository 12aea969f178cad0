"""The loop every queue consumer runs: read a batch, handle it, and sleep only when the queue is drained."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from typing import Any

import psycopg

from tasker_cluster.services.common.metrics import MESSAGES_ARCHIVED
from tasker_cluster.services.common.wakeup import Wakeup

log = logging.getLogger("tasker.consumer")

_ERROR_BACKOFF_S = 0.5


class QueueConsumer(ABC):
    """A loop over one queue. Subclasses say how to take and handle one batch; this class owns the rhythm."""

    def __init__(self, name: str, queue: str, wakeup: Wakeup, poll_interval: float, batch_window: float) -> None:
        self.name = name
        self.queue = queue
        self.wakeup = wakeup
        self.poll_interval = poll_interval
        self.batch_window = batch_window
        self.iterations = 0
        self.last_success: float | None = None
        self.last_error: str | None = None
        # Messages set aside in the queue's archive as unprocessable, and the last one's id and reason.
        self.archived = 0
        self.last_archived: dict[str, Any] | None = None
        # When the read in progress started; None between reads (waiting for a wake-up, or for a free slot).
        self.reading_since: float | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def poll_once(self) -> bool:
        """Take and handle (or hand off) one batch; True when it was full, so more may be waiting right away."""

    async def wait_for_capacity(self) -> None:
        """Block while the consumer may not take more work (a worker with every slot busy); by default, never."""
        return None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    def request_stop(self) -> None:
        self._stopping.set()
        self.wakeup.ring()

    async def join(self) -> None:
        if self._task is not None:
            await self._task

    async def release_unfinished(self) -> None:
        """Called when the grace period ran out: stop at once, handing back whatever is unfinished."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.wait_for_capacity()
            if self._stopping.is_set():
                break
            # Cleared before reading: a message committed after the read started rings it again.
            self.wakeup.clear()
            self.reading_since = time.monotonic()
            try:
                full = await self.poll_once()
            except (psycopg.OperationalError, OSError) as error:
                self._failed(str(error).strip() or type(error).__name__)
                # The listener rings every queue when the database answers again: resume then, not a pause later.
                await self.wakeup.wait(_ERROR_BACKOFF_S)
                continue
            except Exception as error:
                log.exception("%s: unexpected error, carrying on", self.name)
                self._failed(f"{type(error).__name__}: {error}")
                await asyncio.sleep(_ERROR_BACKOFF_S)
                continue
            finally:
                self.reading_since = None
            self.iterations += 1
            self.last_success = time.monotonic()
            self.last_error = None
            # A batch smaller than asked for emptied the queue: reading again at once would find nothing (measured:
            # every other read came back empty). Anything sent since the read has rung the wake-up.
            if not full and not self._stopping.is_set():
                rung = await self.wakeup.wait(self.poll_interval)
                # Every consumer of a queue hears every wake-up, and all but one then find the queue empty again.
                # Pausing a window after each wake-up lets those of several commits share one read (measured: an
                # empty read costs ~180 us of CPU, and 4 workers woken per commit spent most of their time on them).
                # Reading at once when idle halved single-task latency but cost ~30% more CPU per task whenever
                # the consumers were not saturated, and CPU is what bounds throughput on 2 cores.
                if rung and self.batch_window > 0:
                    await asyncio.sleep(self.batch_window)

    def count_archived(self, msg_id: int, reason: str) -> None:
        self.archived += 1
        self.last_archived = {"msg_id": msg_id, "reason": reason}
        MESSAGES_ARCHIVED.labels(self.queue).inc()

    def _failed(self, error: str) -> None:
        if error != self.last_error:
            log.warning("%s: %s", self.name, error)
        self.last_error = error
