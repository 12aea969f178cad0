"""The worker's consumer: claim steps from a namespace queue, run their handlers, record each attempt's outcome.

Per batch, two statements: read + claim, then the outcomes with the results sent to the orchestration and the
consumed messages deleted (plus a wake-up for the orchestration). While a batch runs, the loop claims the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.availability import Availability
from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.database import retry_transaction
from tasker_cluster.services.common.metrics import QUEUE_LATENCY, STEP_DURATION, STEPS_PROCESSED, TRANSITION_CONFLICTS
from tasker_cluster.services.common.queries import query, queue_query
from tasker_cluster.services.common.queues import RESULTS_QUEUE
from tasker_cluster.services.common.storable import check_storable
from tasker_cluster.services.common.wake_sender import WakeSender
from tasker_cluster.services.common.wakeup import Wakeup, wake_consumers
from tasker_cluster.services.workflow.handlers import HandlerRegistry, PermanentStepError, StepInput

log = logging.getLogger("tasker.worker")

# A claimed step's message is hidden for the visibility timeout; while the step still runs, its visibility is
# extended this often (as a fraction of the timeout), so only a dead worker's steps ever reappear.
_HEARTBEAT_FRACTION = 1 / 3
# Between two tries to record outcomes that failed for a lost connection, once the database answers (again).
_RECORD_RETRY_PAUSE_S = 0.25


@dataclass(frozen=True)
class Claim:
    msg_id: int
    step_uuid: uuid.UUID
    task_uuid: uuid.UUID
    name: str
    handler: str
    attempt: int
    max_attempts: int
    context: dict[str, Any]
    dependencies: dict[str, Any]


class Slots:
    """How many steps may run at once in this worker, shared by all its queues."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self._freed = asyncio.Condition()

    def free(self) -> int:
        return self.size - self.busy

    def take(self, count: int) -> None:
        self.busy += count

    async def give_back(self, count: int) -> None:
        async with self._freed:
            self.busy -= count
            self._freed.notify_all()

    async def wait_for_one(self) -> None:
        async with self._freed:
            await self._freed.wait_for(lambda: self.busy < self.size)


class StepConsumer(QueueConsumer):
    def __init__(
        self,
        *,
        instance: str,
        queue: str,
        pool: AsyncConnectionPool,
        wakeup: Wakeup,
        handlers: HandlerRegistry,
        slots: Slots,
        poll_interval: float,
        batch_window: float,
        visibility_timeout: int,
        waker: WakeSender,
        availability: Availability,
    ) -> None:
        super().__init__(f"steps:{queue}", queue, wakeup, poll_interval, batch_window)
        self.instance = instance
        self.pool = pool
        self.availability = availability
        self.handlers = handlers
        self.slots = slots
        self.visibility_timeout = visibility_timeout
        self.waker = waker
        self._in_flight: dict[int, float] = {}
        self._batches: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._latency = QUEUE_LATENCY.labels(queue)
        self._claim_query = queue_query("claim_steps", queue)
        self._record_query = queue_query("record_outcomes", queue)

    # --- the loop -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self._heartbeat = asyncio.create_task(self._extend_visibility_forever(), name=f"heartbeat:{self.queue}")

    async def wait_for_capacity(self) -> None:
        await self.slots.wait_for_one()

    async def poll_once(self) -> bool:
        reserved = self.slots.free()
        if reserved <= 0:
            return False
        self.slots.take(reserved)
        try:
            taken, claims, stale = await retry_transaction(lambda: self._claim(reserved), "claim steps")
        except BaseException:
            await self.slots.give_back(reserved)
            raise
        await self.slots.give_back(reserved - len(claims))
        if taken:
            now = time.monotonic()
            self._in_flight.update((claim.msg_id, now) for claim in claims)
            batch = asyncio.create_task(self._run_batch(claims, stale))
            self._batches.add(batch)
            batch.add_done_callback(self._batches.discard)
        return taken == reserved

    async def _claim(self, qty: int) -> tuple[int, list[Claim], list[int]]:
        params = {"vt": self.visibility_timeout, "qty": qty, "instance": self.instance}
        async with self.pool.connection(timeout=30) as conn:
            cursor = await conn.execute(self._claim_query, params)
            rows = await cursor.fetchall()
        claims: list[Claim] = []
        stale: list[int] = []
        abandoned = 0
        for msg_id, waited_s, *step, step_failed in rows:
            self._latency.observe(waited_s)
            if step[0] is None:
                stale.append(msg_id)
                abandoned += step_failed
            else:
                claims.append(Claim(msg_id, *step))
        if abandoned:
            STEPS_PROCESSED.labels("abandoned").inc(abandoned)
            log.warning("%d steps failed: their last attempt's worker stopped without an outcome", abandoned)
            # Their failures went to the orchestration in the claim's statement.
            self.waker.defer([RESULTS_QUEUE])
        if len(stale) > abandoned:
            TRANSITION_CONFLICTS.labels("stale_message").inc(len(stale) - abandoned)
        return len(rows), claims, stale

    # --- running a batch ----------------------------------------------------------------------------------------

    async def _run_batch(self, claims: list[Claim], stale: list[int]) -> None:
        try:
            outcomes = await asyncio.gather(*(self._run_step(claim) for claim in claims))
            await self._record_once_possible(outcomes, stale)
        except Exception:
            # The attempts stay in_progress and their messages reappear after the visibility timeout, when
            # another worker takes them over: nothing is lost, the attempt is counted.
            log.exception("could not record %d step outcomes; they will be run again", len(claims))
        finally:
            for claim in claims:
                self._in_flight.pop(claim.msg_id, None)
            await self.slots.give_back(len(claims))

    async def _record_once_possible(self, outcomes: list[dict[str, Any]], stale: list[int]) -> None:
        """Record the outcomes; while the database does not answer, wait for it and try again, for as long as one
        visibility timeout, so that a short outage does not make finished work run again. (Recorded later than
        that, an attempt another worker took over meanwhile is refused by its guard, visibly.)"""
        deadline = time.monotonic() + self.visibility_timeout
        while True:
            try:
                return await retry_transaction(lambda: self._record(outcomes, stale), "record outcomes")
            except psycopg.OperationalError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                await asyncio.sleep(_RECORD_RETRY_PAUSE_S)
                await self.availability.wait(remaining)

    async def _run_step(self, claim: Claim) -> dict[str, Any]:
        started = time.perf_counter()
        state, result, error = "complete", None, None
        handler = self.handlers.get(claim.handler)
        try:
            if handler is None:
                raise PermanentStepError(f"this worker has no handler named {claim.handler!r}")
            value = handler(
                StepInput(str(claim.task_uuid), claim.name, claim.attempt, claim.context, claim.dependencies)
            )
            if inspect.isawaitable(value):
                value = await value
            # Checked here, not left to the database: a batch's outcomes are recorded by one statement, which
            # one unstorable result would make fail for every step in it, on every attempt.
            json.dumps(check_storable(value))
            result = value
        except PermanentStepError as exc:
            state, error = "error", str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            state = "waiting_for_retry" if claim.attempt < claim.max_attempts else "error"
        if error is not None:
            error = error.replace("\x00", "\\x00")
        elapsed = time.perf_counter() - started
        STEP_DURATION.labels(claim.handler).observe(elapsed)
        STEPS_PROCESSED.labels(state).inc()
        log.info(
            "step %s task=%s attempt=%d/%d -> %s in %.1f ms%s",
            claim.name,
            claim.task_uuid,
            claim.attempt,
            claim.max_attempts,
            state,
            elapsed * 1000,
            f": {error}" if error else "",
        )
        return {
            "step_uuid": str(claim.step_uuid),
            "attempt": claim.attempt,
            "state": state,
            "result": result,
            "error": error,
        }

    async def _record(self, outcomes: list[dict[str, Any]], stale: list[int]) -> None:
        params = {
            "outcomes": json.dumps(outcomes),
            "step_uuids": [outcome["step_uuid"] for outcome in outcomes],
            "stale_msg_ids": stale,
            "queue": self.queue,
        }
        # One round trip: the outcomes (one statement, so one transaction), then the orchestration's wake-up if
        # it is due (in vain when nothing was recorded).
        ring_now = self.waker.take_due([RESULTS_QUEUE]) if outcomes else []
        async with self.pool.connection(timeout=30) as conn, conn.pipeline():
            cursor = await conn.execute(self._record_query, params)
            await wake_consumers(conn, ring_now, [""] * len(ring_now))
        row = await cursor.fetchone()
        recorded, cancelled = (row[0], row[4]) if row else (0, 0)
        if recorded and not ring_now:
            self.waker.defer([RESULTS_QUEUE])
        if cancelled:
            TRANSITION_CONFLICTS.labels("task_cancelled").inc(cancelled)
            log.info("%d step outcomes refused: their tasks were cancelled while they ran", cancelled)
        taken_over = len(outcomes) - recorded - cancelled
        if taken_over:
            TRANSITION_CONFLICTS.labels("attempt_taken_over").inc(taken_over)
            log.warning("%d step outcomes not recorded: another worker took those attempts over", taken_over)

    # --- visibility ---------------------------------------------------------------------------------------------

    async def _extend_visibility_forever(self) -> None:
        period = max(0.2, self.visibility_timeout * _HEARTBEAT_FRACTION)
        while True:
            await asyncio.sleep(period)
            due = [msg_id for msg_id, since in self._in_flight.items() if time.monotonic() - since >= period]
            if not due:
                continue
            try:
                await self._set_visibility(due, self.visibility_timeout)
            except Exception as error:
                log.warning("could not extend the visibility of %d running steps: %s", len(due), error)
                continue
            now = time.monotonic()
            for msg_id in due:
                if msg_id in self._in_flight:
                    self._in_flight[msg_id] = now

    async def _set_visibility(self, msg_ids: list[int], vt: int) -> int:
        """Hide the messages for `vt` seconds from now (0: visible now); how many were still in the queue."""
        async with self.pool.connection(timeout=5) as conn:
            cursor = await conn.execute(query("extend_visibility"), {"queue": self.queue, "msg_ids": msg_ids, "vt": vt})
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def join(self) -> None:
        """The loop has stopped and every claimed step has finished and been recorded."""
        await super().join()
        while self._batches:
            await asyncio.gather(*list(self._batches), return_exceptions=True)

    async def release_unfinished(self) -> None:
        """Stop what still runs and make its messages visible now: another worker takes the attempts over."""
        # Read before cancelling: a cancelled batch forgets its messages on the way out.
        unfinished = list(self._in_flight)
        await super().release_unfinished()
        for batch in list(self._batches):
            batch.cancel()
        await asyncio.gather(*list(self._batches), return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if unfinished:
            try:
                released = await self._set_visibility(unfinished, 0)
                log.info("released %d unfinished %s to other workers", released, "step" if released == 1 else "steps")
            except Exception as error:
                log.warning(
                    "could not release %d unfinished steps (they reappear after %d s): %s",
                    len(unfinished),
                    self.visibility_timeout,
                    error,
                )
