"""What the orchestration API sends and returns, as the harness sees it.

Models accept unknown fields: the harness checks what it knows and carries the rest, so a richer service response
never breaks a user's suite.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The task model's terminal states (services' model: `complete`, `error`, `cancelled`); a unit test pins them to the
# service's own definition so the two cannot drift.
TERMINAL_TASK_STATES: frozenset[str] = frozenset({"complete", "error", "cancelled"})


class TaskRequest(BaseModel):
    """The body of `POST /v1/tasks`."""

    model_config = ConfigDict(extra="forbid")

    namespace: str
    name: str
    version: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    initiator: str | None = None
    source_system: str | None = None
    reason: str | None = None
    tags: list[str] | None = None
    priority: int | None = None
    idempotency_key: str | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Step(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    status: str
    attempts: int = 0
    result: Any = None
    error: Any = None
    processed_by: str | None = None


class Task(BaseModel):
    """A task as `GET /v1/tasks/{uuid}` (or the creation response) returns it."""

    model_config = ConfigDict(extra="allow")

    task_uuid: str
    namespace: str
    name: str
    version: str | None = None
    status: str
    context: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None = None
    total_steps: int | None = None
    completed_steps: int | None = None
    failed_steps: int | None = None
    steps: list[Step] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_TASK_STATES

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"task {self.task_uuid} has no step {name!r}")


class CreatedTask(BaseModel):
    """One successful `POST /v1/tasks`, with where it went and how many attempts it took."""

    task: Task
    sent_to: str
    attempts: int
    idempotency_key: str
    replayed: bool

    @property
    def task_uuid(self) -> str:
        return self.task.task_uuid

    @property
    def created_by(self) -> str | None:
        return self.task.created_by
