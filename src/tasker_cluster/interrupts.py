"""Ctrl-C held back while a few lines of bookkeeping must finish, then delivered.

A KeyboardInterrupt can strike anywhere, also half-way through writing the PID records of instances already
spawned: those would run on with no record, out of `stop`'s reach. Inside `deferred_interrupt()` a SIGINT only
sets `requested` (a loop may check it to stop early); it is raised as KeyboardInterrupt when the block ends.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupt:
    def __init__(self) -> None:
        self.requested = False

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    interrupt = Interrupt()
    # Only the main thread may set a signal handler; elsewhere SIGINT does not reach Python code anyway.
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = signal.signal(signal.SIGINT, interrupt._note)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupt.requested:
        _deliver(previous)


def _deliver(handler: signal.Handlers | object) -> None:
    """What the SIGINT would have done had it not been held back: the handler's own action."""
    if callable(handler):
        handler(signal.SIGINT, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)
