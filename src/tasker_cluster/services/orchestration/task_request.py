"""The body of POST /v1/tasks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasker_cluster.services.common.storable import check_storable


class CreateTaskRequest(BaseModel):
    # Unknown fields are refused (422) so that a misspelt field is reported instead of silently ignored.
    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    version: str | None = Field(None, max_length=32)
    context: dict[str, Any] = Field(default_factory=dict)
    initiator: str | None = Field(None, max_length=256)
    source_system: str | None = Field(None, max_length=256)
    reason: str | None = Field(None, max_length=1024)
    tags: list[str] = Field(default_factory=list, max_length=64)
    priority: int = Field(0, ge=-1000, le=1000)
    idempotency_key: str | None = Field(None, min_length=1, max_length=256)

    # A value PostgreSQL cannot store is a 422 naming the field, not a 500 from the INSERT.
    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)
