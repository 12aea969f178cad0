from datetime import UTC, datetime

import httpx

from tasker_cluster.testing import RetryPolicy
from tasker_cluster.testing.retry import is_connection_error, retry_after_seconds


def _response(retry_after: str | None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, headers=headers)


def test_retry_after_accepts_delta_seconds() -> None:
    assert retry_after_seconds(_response("3")) == 3.0


def test_retry_after_accepts_an_http_date() -> None:
    now = datetime(2026, 1, 19, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(_response("Mon, 19 Jan 2026 12:00:02 GMT"), now=now) == 2.0


def test_retry_after_in_the_past_or_unparseable_gives_no_wait() -> None:
    now = datetime(2026, 1, 19, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(_response("Mon, 19 Jan 2026 11:00:00 GMT"), now=now) == 0.0
    assert retry_after_seconds(_response("soon")) is None
    assert retry_after_seconds(_response(None)) is None


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, first_delay=0.1, max_delay=0.5)
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.5]


def test_a_servers_retry_after_replaces_the_backoff_but_stays_capped() -> None:
    policy = RetryPolicy(first_delay=0.1, max_delay=2.0)
    assert policy.delay(1, retry_after=1.5) == 1.5
    assert policy.delay(1, retry_after=60.0) == 2.0


def test_only_connection_failures_count_as_connection_errors() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/tasks")
    assert is_connection_error(httpx.ConnectError("refused", request=request))
    assert is_connection_error(httpx.RemoteProtocolError("dropped", request=request))
    assert not is_connection_error(httpx.ReadTimeout("slow", request=request))
    assert not is_connection_error(ValueError("bad json"))
