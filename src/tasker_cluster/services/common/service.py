"""What every service instance is: a pool, a notification listener, queue consumers and an HTTP app around them.

The service is a plain object with start() and stop(): the entry point serves it over uvicorn, and tests can
drive the same object in-process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tasker_cluster.errors import ClusterError
from tasker_cluster.services.common.availability import Availability
from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.database import (
    UnusableDatabase,
    create_pool,
    describe_database,
    prepare_database,
    session_conninfo,
)
from tasker_cluster.services.common.endpoints import Endpoint, routes
from tasker_cluster.services.common.migrations import latest_version
from tasker_cluster.services.common.problems import ApiError, error_response
from tasker_cluster.services.common.settings import ServiceSettings
from tasker_cluster.services.common.wake_sender import WakeSender
from tasker_cluster.services.common.wakeup import NotificationListener

log = logging.getLogger("tasker.service")

_POOL_OPEN_TIMEOUT_S = 10.0
_RETRY_AFTER_S = "1"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


class Service(ABC):
    """The parts both roles share. A subclass names its queues, its consumers and its extra routes."""

    role: str

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.started_at = time.monotonic()
        self.schema_version = 0
        # The package's migrations do not change while it runs: read once, not on every readiness probe.
        self.wanted_schema_version = latest_version()
        conninfo = session_conninfo(settings)
        self.availability = Availability(describe_database(conninfo))
        self.pool = create_pool(settings, self.availability)
        self.waker = WakeSender(self.pool, settings.wake_interval)
        self.listener = NotificationListener(conninfo, self.consumed_queues(), self.availability)
        self.consumers: list[QueueConsumer] = []
        # Why the database answers but must not be used; the instance then serves only its health endpoints.
        self.database_problem: UnusableDatabase | None = None

    @abstractmethod
    def consumed_queues(self) -> list[str]:
        """The queues this instance reads (and listens for)."""

    def created_queues(self) -> list[str]:
        """The queues to create at start-up if missing: at least the ones read."""
        return self.consumed_queues()

    @abstractmethod
    def make_consumers(self) -> list[QueueConsumer]: ...

    def endpoints(self) -> list[Endpoint]:
        """The role's own endpoints, besides the health ones and /openapi.json."""
        return []

    def prepare(self) -> None:
        """Blocking start-up work before the event loop serves anything: database check, PGMQ, migrations."""
        try:
            prepare_database(self.settings, self.created_queues())
        except UnusableDatabase as problem:
            log.error("%s; fix: %s", problem.message, problem.fix)
            self.database_problem = problem
            return
        self.schema_version = self.wanted_schema_version

    async def start(self) -> None:
        if self.database_problem is not None:
            return
        try:
            await self.pool.open(wait=True, timeout=_POOL_OPEN_TIMEOUT_S)
        except PoolTimeout as error:
            raise ClusterError(
                f"could not open {self.settings.pool_min} database connections within {_POOL_OPEN_TIMEOUT_S:.0f} s",
                "check the server's max_connections against every instance's --pool-max",
            ) from error
        await self.listener.start()
        self.consumers = self.make_consumers()
        for consumer in self.consumers:
            consumer.start()
        log.info("%s ready to consume %s", self.settings.name, ", ".join(self.consumed_queues()))

    def request_stop(self) -> None:
        """Take no more work from the queues (what is in flight carries on)."""
        for consumer in self.consumers:
            consumer.request_stop()

    async def stop(self, grace: float | None = None) -> None:
        """Stop reading, let in-flight work finish (or release it) within `grace` seconds, close the pool."""
        grace = self.settings.stop_grace if grace is None else grace
        self.request_stop()
        joins = [asyncio.create_task(consumer.join()) for consumer in self.consumers]
        # asyncio.wait, not wait_for: a timeout must not cancel the joins, as cancelling them would cancel the work
        # they wait for, which would then forget what it had claimed before release_unfinished could hand it back.
        _done, unfinished = await asyncio.wait(joins, timeout=grace) if joins else (set(), set())
        if unfinished:
            log.warning("%s: work still in flight after %.1f s, releasing it", self.settings.name, grace)
        for consumer in self.consumers:
            await consumer.release_unfinished()
        await asyncio.gather(*joins, return_exceptions=True)
        await self.waker.close()
        await self.listener.stop()
        await self.pool.close()
        log.info("%s stopped", self.settings.name)

    # --- health -------------------------------------------------------------------------------------------------

    def readiness(self) -> dict[str, Check]:
        return {
            "database": self._database_check(),
            "migrations": Check(
                self.schema_version >= self.wanted_schema_version,
                f"schema version {self.schema_version} of {self.wanted_schema_version}",
            ),
            "consumers": self._consumers_check(),
        }

    def _database_check(self) -> Check:
        if self.database_problem is not None:
            return Check(False, f"{self.database_problem.message}; fix: {self.database_problem.fix}")
        if self.pool.closed:
            return Check(False, "connection pool is closed")
        if not self.availability.available:
            return Check(False, self.availability.describe())
        stale_after = max(5.0, 4 * self.settings.poll_interval)
        now = time.monotonic()
        # Judged by reads that failed or hang, not by time since the last read: a worker whose every slot runs a
        # long step reads nothing until one is free, and is busy, not broken.
        for consumer in self.consumers:
            if consumer.last_error is not None and consumer.last_success is not None:
                silent_s = now - consumer.last_success
                if silent_s > stale_after:
                    return Check(False, f"no successful query for {silent_s:.1f} s: {consumer.last_error}")
            if consumer.reading_since is not None and now - consumer.reading_since > stale_after:
                return Check(False, f"a read has waited {now - consumer.reading_since:.1f} s for the database")
        size = self.pool.get_stats().get("pool_size", 0)
        return Check(True, f"{self.availability.describe()}; pool of {size} connections")

    def _consumers_check(self) -> Check:
        if not self.consumers:
            return Check(False, "consumers not started")
        waiting = [c.name for c in self.consumers if not c.running or c.iterations == 0]
        if waiting:
            return Check(False, f"not yet consuming: {', '.join(waiting)}")
        return Check(True, f"{len(self.consumers)} consuming")

    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started_at, 3)

    @cached_property
    def app(self) -> Starlette:
        from tasker_cluster.services.common.health import health_endpoints
        from tasker_cluster.services.common.openapi import OPENAPI, service_document

        own = self.endpoints()
        document = JSONResponse(service_document(self.role, [endpoint.operation for endpoint in own])).body

        async def openapi(request: Request) -> Response:
            return Response(document, media_type="application/json")

        endpoints = [*health_endpoints(self), Endpoint(OPENAPI, openapi), *own]
        app = Starlette(
            routes=routes(endpoints, self.settings.max_body_bytes),
            exception_handlers={
                ApiError: _refused,
                HTTPException: _http_error,
                PoolTimeout: _pool_exhausted,
                psycopg.OperationalError: _database_unavailable,
                Exception: _internal_error,
            },
        )
        # A path with a trailing slash is another path (404), not a redirect a client may follow with another method.
        app.router.redirect_slashes = False
        return app


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals: only 404, since every route answers its methods itself (common/endpoints.py)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(
            404, f"no such path: {request.url.path}", "GET /openapi.json lists the paths of this service"
        )
    return error_response(exc.status_code, exc.detail, "see GET /openapi.json", dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(
        500,
        f"internal error ({type(exc).__name__}) while answering {request.method} {request.url.path}",
        "this is a bug: the instance's log has the traceback",
    )


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": "every database connection is busy", "fix": "retry after the Retry-After delay"},
        status_code=503,
        headers={"Retry-After": _RETRY_AFTER_S},
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": f"database unavailable: {str(exc).strip()}", "fix": "retry after the Retry-After delay"},
        status_code=503,
        headers={"Retry-After": _RETRY_AFTER_S},
    )
