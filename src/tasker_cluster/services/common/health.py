"""/health (liveness), /health/ready (503 naming what is not ready), /health/detailed, /metrics.

Their Operations and answer models are in common/health_views.py."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse

from tasker_cluster.services.common.endpoints import Endpoint
from tasker_cluster.services.common.health_views import DETAILED, HEALTH, METRICS, READY
from tasker_cluster.services.common.metrics import metrics_endpoint
from tasker_cluster.services.common.queries import query

if TYPE_CHECKING:
    from tasker_cluster.services.common.service import Service

_DETAIL_QUERY_TIMEOUT_S = 2.0


def health_endpoints(service: Service) -> list[Endpoint]:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "instance": service.settings.name, "role": service.role, "uptime_s": service.uptime_s()}
        )

    async def ready(request: Request) -> JSONResponse:
        checks = service.readiness()
        failed = [name for name, check in checks.items() if not check.ok]
        body = {
            "status": "not_ready" if failed else "ready",
            "instance": service.settings.name,
            "failed": failed,
            "checks": {name: check.as_json() for name, check in checks.items()},
        }
        return JSONResponse(body, status_code=503 if failed else 200)

    async def detailed(request: Request) -> JSONResponse:
        checks = service.readiness()
        body: dict[str, Any] = {
            "instance": service.settings.name,
            "role": service.role,
            "uptime_s": service.uptime_s(),
            "ready": all(check.ok for check in checks.values()),
            "checks": {name: check.as_json() for name, check in checks.items()},
            "database": {
                "available": service.availability.available,
                "down_for_s": round(service.availability.down_for(), 3),
                "reason": service.availability.reason or None,
            },
            "pool": service.pool.get_stats(),
            "notifications": {"connected": service.listener.connected},
            "consumers": [
                {
                    "name": c.name,
                    "queue": c.queue,
                    "running": c.running,
                    "iterations": c.iterations,
                    "last_error": c.last_error,
                    "archived": c.archived,
                    "last_archived": c.last_archived,
                }
                for c in service.consumers
            ],
            "queues": await _queue_depths(service),
        }
        return JSONResponse(body)

    return [
        Endpoint(HEALTH, health),
        Endpoint(READY, ready),
        Endpoint(DETAILED, detailed),
        Endpoint(METRICS, metrics_endpoint),
    ]


async def _queue_depths(service: Service) -> dict[str, Any]:
    """Depth and oldest message age per queue; an error is reported in place rather than failing the page."""
    try:
        async with asyncio.timeout(_DETAIL_QUERY_TIMEOUT_S), service.pool.connection() as conn:
            cursor = await conn.execute(query("queue_depths"), {"queues": service.created_queues()})
            rows = await cursor.fetchall()
    except (psycopg.Error, TimeoutError) as error:
        return {"error": str(error).strip() or type(error).__name__}
    return {name: {"depth": depth, "oldest_age_s": age} for name, depth, age in rows}
