"""When a request may be sent again, and how long to wait first.

Only failures that cannot have changed server state in an unsafe way are retried: the connection failed, or the
server said 503 (overloaded, try later). Task creation always carries an idempotency key, so even a POST whose
response was lost mid-flight is safe to repeat: the server answers with the task it already created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Failures where the request may not have reached the server, or its answer was lost: a killed instance gives
# ConnectError (nothing listening) or ReadError/RemoteProtocolError (connection dropped mid-response).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)
RETRYABLE_STATUS = 503
# A read changes nothing, so more is worth another try: any timeout (the server was slow, not gone) and the
# statuses a proxy in front answers with while an instance restarts.
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


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, CONNECTION_ERRORS)


def is_transient_read_error(error: BaseException) -> bool:
    """A failure of a GET worth repeating: no connection, or no answer in time."""
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
