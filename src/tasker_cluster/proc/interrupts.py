"""Ctrl-C held back while a few lines of bookkeeping must finish, then delivered.

A KeyboardInterrupt can strike anywhere, also half-way through writing the PID records of instances already
spawned: those would run on with no record, out of `stop`'s reach. Inside `deferred_interrupt()` a SIGINT only
sets `requested` (a loop may check it to stop early); it is raised as KeyboardInterrupt when the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupt:
    """Whether a SIGINT arrived inside the block."""

    def __init__(self) -> None:
        self.requested = False

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    interrupt = Interrupt()
    previous = signal.getsignal(signal.SIGINT)
    # Only the main thread may set a signal handler, and only a Python handler (KeyboardInterrupt's, or the
    # caller's) has anything to hold back: an ignored SIGINT stays ignored, a default one still ends the process.
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield interrupt
        return
    signal.signal(signal.SIGINT, interrupt._note)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupt.requested:
        # What the SIGINT would have done had it not been held back: usually raise KeyboardInterrupt.
        previous(signal.SIGINT, None)
