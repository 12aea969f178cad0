"""Prometheus metrics both services export on /metrics (process-wide, like the default registry they live in)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

TASKS_CREATED = Counter("tasker_tasks_created", "Tasks created by this instance", ["namespace", "name"])
TASKS_FINISHED = Counter("tasker_tasks_finished", "Tasks this instance finalized", ["status"])
STEPS_ENQUEUED = Counter("tasker_steps_enqueued", "Steps this instance enqueued for workers")
STEPS_PROCESSED = Counter("tasker_steps_processed", "Step attempts this worker ran, by outcome", ["outcome"])
TRANSITION_CONFLICTS = Counter(
    "tasker_transition_conflicts",
    "Guarded state changes that found another state (a race lost, a duplicate delivery, a taken-over attempt, "
    "a step cancelled while it ran)",
    ["kind"],
)
MESSAGES_ARCHIVED = Counter(
    "tasker_messages_archived",
    "Messages moved to their queue's archive because they could not be processed (the reason is in their headers)",
    ["queue"],
)
QUEUE_LATENCY = Histogram(
    "tasker_queue_latency_seconds",
    "Time from a message being sent to being read (includes a retry's backoff delay)",
    ["queue"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STEP_DURATION = Histogram(
    "tasker_step_duration_seconds",
    "Time a step handler ran",
    ["handler"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
