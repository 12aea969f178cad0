"""Failures the harness reports: each names what went wrong and what to do, like the rest of the project."""

from __future__ import annotations

from typing import Any

from tasker_cluster.errors import ClusterError


class HarnessError(ClusterError):
    """Base for every expected harness failure."""


class TaskApiError(HarnessError):
    """The orchestration API answered with a status the caller did not expect. The message and fix are the server's
    own (its `{"error", "fix"}` body) when it sent them."""

    def __init__(
        self,
        method: str,
        url: str,
        status_code: int,
        body: str,
        retry_after: float | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        problem = problem or {}
        super().__init__(
            f"{method} {url} answered {status_code}: {problem.get('error') or body[:300]}",
            problem.get("fix") or "check the instance's log (`cluster logs NAME`) for the cause",
        )
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        self.problem = problem


class IdempotencyKeyReusedError(TaskApiError):
    """The idempotency key was already used for a different request (422): the server refused to answer with the
    other request's task. `differs` names the fields that differ; `task_uuid` is the task the key created."""

    @property
    def idempotency_key(self) -> str:
        return str(self.problem.get("idempotency_key", ""))

    @property
    def task_uuid(self) -> str:
        return str(self.problem.get("task_uuid", ""))

    @property
    def differs(self) -> list[str]:
        return list(self.problem.get("differs", []))


class ClusterNotHealthyError(HarnessError):
    """Some instances did not become healthy before the deadline."""


class TaskTimeoutError(HarnessError):
    """Tasks were still running when the wait's deadline passed."""


class InconsistentTaskError(AssertionError):
    """Instances disagree about a task: an assertion failure, so pytest shows it as the test's failure."""
