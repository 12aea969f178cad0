"""Concurrent HTTP probes: one-shot health checks, and waiting until instances answer their ready path.

Every probe of a call shares one AsyncClient and runs at once, so N hung instances cost one timeout, not N.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import anyio
import httpx

_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05
# A ready probe that hangs must not eat the whole startup window in one go.
_READY_REQUEST_TIMEOUT = 1.0

ReadyOutcome = Literal["ready", "exited", "timeout"]


@dataclass(frozen=True)
class ProbeResult:
    status_code: int | None
    latency_ms: float | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def answered(self) -> bool:
        return self.status_code is not None


@dataclass(frozen=True)
class ReadyTarget:
    """An instance to wait for: `exit_code` says whether it has already exited (None while it runs)."""

    name: str
    url: str
    timeout: float
    exit_code: Callable[[], int | None]


@dataclass(frozen=True)
class ReadyResult:
    name: str
    outcome: ReadyOutcome
    elapsed: float
    last_probe: ProbeResult | None


def probe_many(urls: Sequence[str], timeout: float) -> list[ProbeResult]:
    """GET every URL concurrently; results in the order of `urls`."""
    return anyio.run(_probe_many, list(urls), timeout)


def wait_ready(targets: Sequence[ReadyTarget], on_result: Callable[[ReadyResult], None]) -> list[ReadyResult]:
    """Probe each target's URL with a short backoff until it answers 2xx, exits, or runs out of time."""
    return anyio.run(_wait_all, list(targets), on_result)


def _client(connections: int) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment must never sit between us and 127.0.0.1.
    limits = httpx.Limits(max_connections=max(connections, 1), max_keepalive_connections=0)
    return httpx.AsyncClient(trust_env=False, limits=limits, follow_redirects=False)


async def _probe_many(urls: list[str], timeout: float) -> list[ProbeResult]:
    results: list[ProbeResult | None] = [None] * len(urls)
    async with _client(len(urls)) as client, anyio.create_task_group() as group:
        for position, url in enumerate(urls):
            group.start_soon(_probe_into, client, url, timeout, results, position)
    return [result or ProbeResult(None, None, "not probed") for result in results]


async def _probe_into(
    client: httpx.AsyncClient, url: str, timeout: float, results: list[ProbeResult | None], position: int
) -> None:
    results[position] = await probe(client, url, timeout)


async def probe(client: httpx.AsyncClient, url: str, timeout: float) -> ProbeResult:
    started = time.perf_counter()
    response = None
    try:
        # httpx applies `timeout` to each phase (connect, write, read); the outer bound caps their sum, so a
        # server that drips its answer still costs one timeout.
        with anyio.move_on_after(timeout):
            response = await client.get(url, timeout=timeout)
    except httpx.ConnectError:
        return ProbeResult(None, None, "refused")
    except httpx.TimeoutException:
        return ProbeResult(None, None, "timeout")
    except httpx.HTTPError as error:
        return ProbeResult(None, None, type(error).__name__)
    if response is None:
        return ProbeResult(None, None, "timeout")
    return ProbeResult(response.status_code, (time.perf_counter() - started) * 1000, None)


async def _wait_all(targets: list[ReadyTarget], on_result: Callable[[ReadyResult], None]) -> list[ReadyResult]:
    results: dict[str, ReadyResult] = {}
    async with _client(len(targets)) as client, anyio.create_task_group() as group:
        for target in targets:
            group.start_soon(_wait_one, client, target, results, on_result)
    return [results[target.name] for target in targets]


async def _wait_one(
    client: httpx.AsyncClient,
    target: ReadyTarget,
    results: dict[str, ReadyResult],
    on_result: Callable[[ReadyResult], None],
) -> None:
    started = time.monotonic()
    deadline = started + target.timeout
    pause = _FIRST_PAUSE
    last: ProbeResult | None = None
    while True:
        outcome: ReadyOutcome | None = None
        if target.exit_code() is not None:
            outcome = "exited"
        else:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                last = await probe(client, target.url, min(_READY_REQUEST_TIMEOUT, remaining))
            if last is not None and last.ok:
                outcome = "ready"
            elif target.exit_code() is not None:
                outcome = "exited"
            elif time.monotonic() >= deadline:
                outcome = "timeout"
        if outcome is not None:
            result = ReadyResult(target.name, outcome, time.monotonic() - started, last)
            results[target.name] = result
            on_result(result)
            return
        await anyio.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, _MAX_PAUSE)
