"""Failures the harness reports: each names what went wrong and what to do, like the rest of the project."""

from __future__ import annotations

from tasker_cluster.errors import ClusterError


class HarnessError(ClusterError):
    """Base for every expected harness failure."""


class TaskApiError(HarnessError):
    """The orchestration API answered with a status the caller did not expect."""

    def __init__(self, method: str, url: str, status_code: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(
            f"{method} {url} answered {status_code}: {body[:300]}",
            "check the instance's log (`cluster logs NAME`) for the cause",
        )
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after


class ClusterNotHealthyError(HarnessError):
    """Some instances did not become healthy before the deadline."""


class TaskTimeoutError(HarnessError):
    """Tasks were still running when the wait's deadline passed."""


class InconsistentTaskError(AssertionError):
    """Instances disagree about a task: an assertion failure, so pytest shows it as the test's failure."""
