"""What the task API answers and the parameters it reads, as pydantic models: /openapi.json is made from them.

The task bodies themselves are JSON text built by the database (queries.sql `get_task`, `list_tasks`), so every
instance answers with the same bytes; these models describe that text, and the contract tests check each answer
against them.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasker_cluster.services.common.storable import check_storable
from tasker_cluster.services.workflow.templates import TaskTemplate

TaskStatus = Literal["pending", "steps_in_process", "complete", "error", "cancelled"]
StepStatus = Literal["pending", "enqueued", "in_progress", "complete", "waiting_for_retry", "error", "cancelled"]

_MAX_PAGE = 500


class TaskPath(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    task_uuid: UUID = Field(description="The task_uuid POST /v1/tasks answered with.")


class TaskListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    status: TaskStatus | None = Field(None, description="Only tasks in this status.")
    namespace: str | None = Field(None, min_length=1, max_length=64, description="Only tasks of this namespace.")
    limit: int = Field(50, ge=1, le=_MAX_PAGE, description="At most this many tasks.")
    offset: int = Field(0, ge=0, le=10**9, description="Skip this many of the newest tasks first.")

    # A filter PostgreSQL could not even compare (a NUL character) is a 422, not a 500 from the query.
    @field_validator("namespace")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return check_storable(value)


class StepView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    status: StepStatus
    attempts: int
    max_attempts: int
    depends_on: list[str]
    result: Any = Field(description="What the step's handler returned (any JSON), null until it completes.")
    error: str | None
    processed_by: str | None = Field(description="The worker instance of the latest attempt.")


class TaskView(BaseModel):
    """A task with its steps (GET /v1/tasks/{task_uuid}, and the answer to creating or cancelling one)."""

    model_config = ConfigDict(extra="forbid")

    task_uuid: UUID
    namespace: str
    name: str
    version: str
    status: TaskStatus
    context: dict[str, Any] = Field(description="Exactly as sent: numbers keep their digits and decimal places.")
    initiator: str | None
    source_system: str | None
    reason: str | None
    tags: list[str]
    priority: int
    idempotency_key: str | None
    created_by: str = Field(description="The orchestration instance that created the task.")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    completed_at: str | None = Field(json_schema_extra={"format": "date-time"})
    total_steps: int
    completed_steps: int
    failed_steps: int
    completion_percentage: float
    steps: list[StepView]


class TaskSummary(BaseModel):
    """A task in a list: no context and no steps."""

    model_config = ConfigDict(extra="forbid")

    task_uuid: UUID
    namespace: str
    name: str
    version: str
    status: TaskStatus
    created_by: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    completed_at: str | None = Field(json_schema_extra={"format": "date-time"})


class TaskPage(BaseModel):
    """GET /v1/tasks: newest first."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskSummary]
    limit: int
    offset: int


class TemplateList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    templates: list[TaskTemplate]
