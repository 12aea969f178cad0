"""Is a service answering? A probe that asks it all the time, as a client with failover would, and counts.

Each round asks `path` of the service's instances in turn, starting one further each round (round robin), and is
answered as soon as one of them answers 200; a round none answers is unanswered, with what each instance said.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType

import httpx


class AvailabilityProbe:
    """Rounds every `interval` seconds from `__enter__` to `__exit__`; each request waits at most `timeout`."""

    def __init__(self, urls: Sequence[str], path: str, *, interval: float = 0.01, timeout: float = 5.0) -> None:
        self.urls = list(urls)
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.rounds = 0
        self.unanswered: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="availability-probe", daemon=True)

    def __enter__(self) -> AvailabilityProbe:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout * len(self.urls) + 5)

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                failures = self._round(client, self.rounds % len(self.urls))
                self.rounds += 1
                if failures is not None:
                    at = time.monotonic() - started
                    self.unanswered.append(f"round {self.rounds} at {at:.2f} s: " + "; ".join(failures))
                self._stop.wait(self.interval)

    def _round(self, client: httpx.Client, first: int) -> list[str] | None:
        """None when an instance answered 200, else what each one said."""
        failures = []
        for url in self.urls[first:] + self.urls[:first]:
            try:
                status = client.get(url + self.path).status_code
            except httpx.HTTPError as error:
                failures.append(f"{url}: {type(error).__name__} ({error})")
                continue
            if status == 200:
                return None
            failures.append(f"{url}: {status}")
        return failures
