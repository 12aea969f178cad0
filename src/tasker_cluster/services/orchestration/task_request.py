"""The body of POST /v1/tasks."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from tasker_cluster.services.common.request_body import MAX_NESTING_DEPTH
from tasker_cluster.services.common.storable import check_storable


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer: a whole number read as a Decimal is taken as the int it equals."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


class CreateTaskRequest(BaseModel):
    """A task to create from the template namespace/name (its highest version unless `version` is given).

    Validated strictly, as JSON Schema reads the document: `"priority": "5"` or `true` is refused, not converted
    (and `2.0`, an integer to JSON Schema, is 2).
    """

    # Unknown fields are refused (422) so that a misspelt field is reported instead of silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    namespace: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    version: str | None = Field(None, min_length=1, max_length=32)
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Any JSON object, stored and returned exactly as sent: numbers keep their digits and decimal "
        "places (exponents come back written out: 1e3 as 1000). Refused (422): a negative zero (jsonb has none), "
        "a number beyond PostgreSQL's numeric (131072 digits before the point, 16383 after), a NUL character or a "
        f"lone surrogate in any string, arrays and objects nested more than {MAX_NESTING_DEPTH - 1} levels deep "
        f"counting `context` itself (the body's limit is {MAX_NESTING_DEPTH} levels, its own object the first).",
    )
    initiator: str | None = Field(None, max_length=256)
    source_system: str | None = Field(None, max_length=256)
    reason: str | None = Field(None, max_length=1024)
    tags: list[str] = Field(default_factory=list, max_length=64)
    priority: WholeNumber = Field(0, ge=-1000, le=1000)
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Sending the same request with the same key again answers 200 with the task the first one "
        "created, never a second task; the same key with a different request is refused (422, naming the fields "
        "that differ).",
    )

    # A value PostgreSQL cannot store exactly is a 422 naming the field, not a 500 from the INSERT or a silent change.
    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)
