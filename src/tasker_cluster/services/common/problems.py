"""How the services refuse a request: one JSON shape, `{"error": what went wrong, "fix": what to do}`, for every
status they answer with (400, 404, 405, 409, 413, 422, 500, 503), plus fields that name what was refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse


class ValidationDetail(BaseModel):
    """One thing wrong with a request, as pydantic reports it: where (`loc`), what kind (`type`), and why (`msg`)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    """The body of every refusal. `error` and `fix` are always there; the rest only where they apply."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="What went wrong, naming the value or resource concerned.")
    fix: str = Field(description="What to change so that the request succeeds.")
    details: list[ValidationDetail] | None = Field(None, description="422: each invalid field.")
    status: str | None = Field(None, description="409 on cancel: the status the task ended in.")
    idempotency_key: str | None = Field(None, description="422 on a reused key: the key.")
    task_uuid: str | None = Field(None, description="422 on a reused key: the task the key created.")
    differs: list[str] | None = Field(None, description="422 on a reused key: the fields that differ from its task's.")


class ApiError(Exception):
    """A refusal raised anywhere below an endpoint; the app turns it into `ErrorBody` JSON with its status."""

    def __init__(
        self, status_code: int, message: str, fix: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fix = fix
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        return error_response(self.status_code, self.message, self.fix, self.headers, **self.extra)


def error_response(
    status_code: int, message: str, fix: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, "fix": fix, **extra}, status_code=status_code, headers=headers)
