"""The body of POST /v1/tasks."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def check_storable(value: Any) -> Any:
    """Refuse what PostgreSQL cannot store, so the request is a 422 naming the field instead of a 500.

    Its text and jsonb types hold no NUL character, and jsonb no NaN or infinity (which JSON parsing gives for
    `NaN` or an overflowing `1e400`).
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"holds {value}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable(item)
    return value


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

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)
