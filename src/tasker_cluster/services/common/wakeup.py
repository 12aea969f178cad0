"""Wake consumers the moment a queue gets a message (LISTEN/NOTIFY), with polling as the fallback.

Whoever sends to a queue calls `wake_consumers` once the sending transaction has committed (queries.sql says why
not inside it). An empty payload means "readable now"; a number is the delay in milliseconds after which a
delayed message (a retry's backoff) becomes readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from tasker_cluster.services.common.availability import Availability, cause
from tasker_cluster.services.common.queries import query
from tasker_cluster.services.common.queues import wake_channel

log = logging.getLogger("tasker.wakeup")

# How often a lost database is tried again: short, as the instance is ready again at most this long after the
# database answers, and fixed, as a backoff that grows with the outage delays the recovery by as much.
_RECONNECT_INTERVAL_S = 0.25
_CONNECT_TIMEOUT_S = 2


class Wakeup:
    """A queue's doorbell: consumers clear it before reading and wait on it after an empty read."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    def ring_after(self, delay_s: float) -> None:
        asyncio.get_running_loop().call_later(delay_s, self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """True when rung, False when the timeout (the polling fallback) passed first."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def wake_consumers(conn: psycopg.AsyncConnection[Any], queues: Sequence[str], payloads: Sequence[str]) -> None:
    """Ring the consumers of `queues`; call it after the transaction that sent to them has committed."""
    if queues:
        await conn.execute(query("wake_consumers"), {"queues": list(queues), "payloads": list(payloads)})


class NotificationListener:
    """One dedicated connection LISTENing on the channels of the queues this process consumes.

    It is also the instance's sentinel for the database (see availability.py): when it breaks, it is opened again at
    once; if that fails, the database is reported down, and tried again every interval, the same interval however
    long the outage lasts, until it answers."""

    def __init__(
        self,
        conninfo: str,
        queues: Iterable[str],
        availability: Availability,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._conninfo = conninfo
        self.availability = availability
        self.wakeups: dict[str, Wakeup] = {wake_channel(queue): Wakeup() for queue in queues}
        self._by_queue = {queue: self.wakeups[wake_channel(queue)] for queue in queues}
        self._open = connect or self._open_connection
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def wakeup_for(self, queue: str) -> Wakeup:
        return self._by_queue[queue]

    async def start(self) -> None:
        """Listen before returning, so that nothing sent after start() can go unnoticed."""
        conn = await self._connect()
        self._task = asyncio.create_task(self._run(conn), name="notification-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _open_connection(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        )

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await self._open()
        try:
            for channel in self.wakeups:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            await _close_quietly(conn)
            raise
        self.connected = True
        return conn

    async def reconnect(self) -> psycopg.AsyncConnection[Any]:
        """Open the connection again, at once and then every interval until the database answers; report the
        database down while it does not, and up when it does."""
        while True:
            try:
                conn = await self._connect()
            except psycopg.OperationalError as error:
                self.availability.lost(cause(error))
                await self._sleep(_RECONNECT_INTERVAL_S)
                continue
            self.availability.restored()
            # Anything sent while we were away got no doorbell: let every consumer look once.
            for wakeup in self.wakeups.values():
                wakeup.ring()
            return conn

    async def _run(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        while True:
            try:
                if conn is None:
                    conn = await self.reconnect()
                async for notification in conn.notifies():
                    wakeup = self.wakeups.get(notification.channel)
                    if wakeup is not None:
                        _ring(wakeup, notification.payload)
            except psycopg.OperationalError as error:
                self.connected = False
                log.warning("notification connection lost (%s); opening it again", cause(error))
                await _close_quietly(conn)
                conn = None
            except asyncio.CancelledError:
                await _close_quietly(conn)
                raise


def _ring(wakeup: Wakeup, payload: str) -> None:
    try:
        delay_ms = int(payload) if payload else 0
    except ValueError:
        delay_ms = 0
    if delay_ms > 0:
        wakeup.ring_after(delay_ms / 1000)
    else:
        wakeup.ring()


async def _close_quietly(conn: psycopg.AsyncConnection | None) -> None:
    if conn is not None:
        with contextlib.suppress(psycopg.Error):
            await conn.close()
