"""When the first of some processes exited, seen from outside: pidfds polled by a thread from before the action.

The stop bench uses it to split a stop command's time: launch -> first instance gone is the command's own start
and checks before its first signal, plus the instance's exit; the rest is waiting for the others and reporting.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Sequence


class FirstExit:
    """Opened before the stop is launched; `since(started)` is seconds from `started` to the first exit."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._fds = []
        for pid in pids:
            try:
                self._fds.append(os.pidfd_open(pid))
            except OSError:
                continue
        self._at: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def since(self, started: float, timeout: float = 10.0) -> float | None:
        self._thread.join(timeout)
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        return None if self._at is None else self._at - started

    def _watch(self) -> None:
        if not self._fds:
            return
        poll = select.poll()
        for fd in self._fds:
            poll.register(fd, select.POLLIN)
        if poll.poll(10_000):
            self._at = time.monotonic()
