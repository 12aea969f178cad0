"""Waiting for the moment to inject a fault: polling server-side records, bounded, no fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting until {what}")
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)
