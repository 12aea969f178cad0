"""When a request may be sent again, and how long to wait first.

Only failures that cannot have changed server state in an unsafe way are retried: the connection failed, no answer
came in time, or the server said 503 (overloaded, try later). Task creation always carries an idempotency key, so
even a POST whose response was lost mid-flight, or that a paused instance serves late, is safe to repeat: the
server answers with the task it already created.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Failures where the request may not have reached the server, or its answer was lost: a killed instance gives
# ConnectError (nothing listening) or ReadError/RemoteProtocolError (connection dropped mid-response).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)
RETRYABLE_STATUS = 503
# A read changes nothing, so more is worth another try: the statuses a proxy in front answers with while an
# instance restarts.
READ_RETRYABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    first_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Pause before attempt `attempt + 1`: the server's Retry-After when given, else exponential backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.first_delay * 2 ** (attempt - 1), self.max_delay)


@dataclass(frozen=True)
class RetriedRequest:
    """One attempt that failed the way the harness retries (no connection, a 503, a read timed out): a creation or
    a read, where it went, and why it failed."""

    kind: str  # "create" | "read"
    url: str
    reason: str  # "503", "ConnectError", ...


@dataclass
class RetryLog:
    """Every such failed attempt, in order (the last one of a request that ran out of attempts included). A test
    that injected no fault must see none: there, a retried request is a failure the retry would hide. A fault
    scenario reports them as figures."""

    entries: list[RetriedRequest] = field(default_factory=list)

    def record(self, kind: str, url: str, reason: str) -> None:
        self.entries.append(RetriedRequest(kind, url, reason))

    def count(self, kind: str | None = None) -> int:
        return sum(kind is None or entry.kind == kind for entry in self.entries)

    def describe(self) -> str:
        """`2 create (http://127.0.0.1:20001: 503 x2), 1 read (...)`, or `none`."""
        parts = []
        for kind in sorted({entry.kind for entry in self.entries}):
            reasons = Counter(f"{e.url}: {e.reason}" for e in self.entries if e.kind == kind)
            shown = ", ".join(f"{reason} x{n}" if n > 1 else reason for reason, n in reasons.most_common())
            parts.append(f"{self.count(kind)} {kind} ({shown})")
        return "; ".join(parts) or "none"

    def snapshot(self) -> RetryLog:
        return RetryLog(list(self.entries))


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, CONNECTION_ERRORS)


def is_transient_error(error: BaseException) -> bool:
    """A failure worth repeating for a GET, or for a creation (its idempotency key makes a repeat safe): no
    connection, or no answer in time."""
    return isinstance(error, (*CONNECTION_ERRORS, httpx.TimeoutException))


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The Retry-After header as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
