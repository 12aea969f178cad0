"""The services' connection pool: psycopg_pool's, which refuses at once while the database is down and never hands
out a connection the server has already closed.

psycopg_pool leaves both to its user. Its reconnection backoff doubles up to `reconnect_timeout` (5 minutes by
default) and nothing resets it when the server is back: after a 3-minute outage, requests waited on the pool for up
to a minute more. Here the pool gives a failed connection attempt up almost at once and opens connections on demand;
whether the server answers is the Availability's to say, checked at a fixed interval however long the outage lasts.
Its `check` callback retries a broken connection after a backoff too (1 s, then 2 s, ...), so after a failover
the third stale connection in a row cost a request 3 s: the check here is a loop of its own, without a pause, since
finding a dead connection is no reason to wait for the next one.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from tasker_cluster.services.common.availability import Availability

Connection = psycopg.AsyncConnection[Any]

# A failed attempt to open a connection is tried once more, then given up: the pool opens another when a request
# needs one, which is at once when the database is back, instead of at the end of a growing backoff.
_RECONNECT_TIMEOUT_S = 0.5
# Data waiting on an idle connection is the server's goodbye (an error, then end-of-file) or, rarely, a notice; a
# connection is judged after reading at most this many times.
_MAX_READS = 4


class ServicePool(AsyncConnectionPool[Connection]):
    def __init__(self, conninfo: str, availability: Availability, **options: Any) -> None:
        super().__init__(conninfo, reconnect_timeout=_RECONNECT_TIMEOUT_S, **options)
        self.availability = availability

    async def getconn(self, timeout: float | None = None) -> Connection:
        """A pooled connection the server has not closed; DatabaseUnavailable at once while the database is down.

        Every connection handed to a request passes a check without a round trip (is anything waiting to be read
        on an idle connection?): a closed one is dropped, the pool opens a replacement, and the next is tried."""
        self.availability.require()
        for _ in range((self.max_size or 1) + 1):
            conn = await super().getconn(timeout)
            if not closed_by_server(conn):
                return conn
            await conn.close()
            await self.putconn(conn)
        raise psycopg.OperationalError(f"every connection of the pool to {self.availability.where} was closed")


def closed_by_server(conn: Connection) -> bool:
    """True when the server closed this idle connection (a terminated backend, a crash): one poll(), no round trip."""
    pgconn = conn.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        return True
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    for _ in range(_MAX_READS):
        if not poller.poll(0):
            return False
        try:
            pgconn.consume_input()
        except psycopg.OperationalError:
            return True
        if pgconn.status != pq.ConnStatus.OK:
            return True
    return False
