"""Whether the database answers, as the instance's one long-lived connection sees it, and the error while it does not.

The notification listener's connection is the sentinel: a crashed server closes it at once (its backends exit when
their postmaster dies), and the listener reconnects at a fixed interval until the server answers again. While it
does not, every request for a connection is refused at once, instead of waiting for a pool that cannot fill.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg

log = logging.getLogger("tasker.database")


def cause(error: BaseException) -> str:
    """The cause in libpq's message ('Connection refused'), without its host:port preamble and hint lines."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[0].rsplit(" failed: ", 1)[-1]


class DatabaseUnavailable(psycopg.OperationalError):
    """Raised instead of waiting for a connection while the database is known not to answer.

    An OperationalError, so that it is answered like any lost database: 503 with Retry-After."""


class Availability:
    """Up or down since when and why; `lost` and `restored` are called by whoever watches the sentinel connection."""

    def __init__(self, where: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.where = where
        self._clock = clock
        self.down_since: float | None = None
        self.reason = ""
        self._answering = asyncio.Event()
        self._answering.set()

    @property
    def available(self) -> bool:
        return self.down_since is None

    def down_for(self) -> float:
        return 0.0 if self.down_since is None else self._clock() - self.down_since

    def lost(self, reason: str) -> None:
        if self.down_since is None:
            self.down_since = self._clock()
            log.warning("the database at %s does not answer: %s", self.where, reason)
        self.reason = reason
        self._answering.clear()

    def restored(self) -> None:
        if self.down_since is not None:
            log.info("the database at %s answers again after %.1f s", self.where, self.down_for())
        self.down_since = None
        self.reason = ""
        self._answering.set()

    async def wait(self, timeout: float) -> bool:
        """True once the database answers (at once when it does), False when `timeout` seconds passed first."""
        try:
            await asyncio.wait_for(self._answering.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def require(self) -> None:
        """Raise DatabaseUnavailable while the database is down. The message does not change while the outage
        lasts, so that a consumer logs it once."""
        if self.down_since is not None:
            raise DatabaseUnavailable(f"the database at {self.where} does not answer: {self.reason}")

    def describe(self) -> str:
        if self.down_since is None:
            return f"{self.where} answers"
        return f"{self.where} has not answered for {self.down_for():.1f} s: {self.reason}"
