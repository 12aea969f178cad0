"""What /health, /health/ready, /health/detailed and /metrics answer, as Operations with pydantic models for
/openapi.json (the handlers are in common/health.py; the contract tests check their answers against these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tasker_cluster.services.common.endpoints import Operation, Reply


class HealthBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
    instance: str
    role: Literal["orchestration", "worker"]
    uptime_s: float


class CheckView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    detail: str


class ReadyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ready", "not_ready"]
    instance: str
    failed: list[str] = Field(description="The names of the checks that failed.")
    checks: dict[str, CheckView]


class ConsumerView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    queue: str
    running: bool
    iterations: int
    last_error: str | None
    archived: int = Field(description="Messages this consumer moved to the queue's archive as unprocessable.")
    last_archived: dict[str, Any] | None = Field(description="The last of them: {msg_id, reason}.")


class DatabaseView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool = Field(description="Whether the database answers, as the instance's sentinel connection sees.")
    down_for_s: float
    reason: str | None = Field(description="Why it does not answer, while it does not.")


class DetailedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance: str
    role: Literal["orchestration", "worker"]
    uptime_s: float
    ready: bool
    checks: dict[str, CheckView]
    database: DatabaseView
    pool: dict[str, int] = Field(description="psycopg_pool's statistics (pool_size, pool_available, ...).")
    notifications: dict[str, bool]
    consumers: list[ConsumerView]
    queues: dict[str, Any] = Field(
        description="Per queue {depth, oldest_age_s}, or {error} when the database did not answer in time."
    )


HEALTH = Operation(
    "GET", "/health", "health", "Liveness: the process serves HTTP", replies={200: Reply("Alive.", HealthBody)}
)
READY = Operation(
    "GET",
    "/health/ready",
    "ready",
    "Readiness: database, migrations and queue consumers",
    replies={
        200: Reply("Ready to take work.", ReadyBody),
        503: Reply("Not ready: `failed` names each check that failed.", ReadyBody),
    },
)
DETAILED = Operation(
    "GET",
    "/health/detailed",
    "healthDetailed",
    "Readiness checks, pool, consumers and queue depths",
    replies={200: Reply("The instance's state.", DetailedBody)},
)
METRICS = Operation(
    "GET",
    "/metrics",
    "metrics",
    "Prometheus metrics",
    replies={200: Reply("Prometheus text exposition format.", media_type="text/plain")},
)
HEALTH_OPERATIONS = (HEALTH, READY, DETAILED, METRICS)
# What orchestrators, `cluster status` and metric scrapers call every few seconds on every instance.
PROBE_PATHS = frozenset({HEALTH.path, READY.path, METRICS.path})
