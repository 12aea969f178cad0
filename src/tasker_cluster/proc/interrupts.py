"""Ctrl-C held back while a few lines of bookkeeping must finish, then delivered.

A KeyboardInterrupt can strike anywhere, also half-way through writing the PID records of instances already
spawned: those would run on with no record, out of `stop`'s reach. Inside `deferred_interrupt()` a SIGINT only
sets `requested` (a loop may check it to stop early, and `sleep` ends at it); it is raised as KeyboardInterrupt
when the block ends.

The handler only records: it runs on the main thread between two bytecodes, possibly inside a lock the main thread
holds (setting a threading.Event there deadlocked `status --watch` when Ctrl-C came during the Event's wait). The
kernel-level wake-up fd (`signal.set_wakeup_fd`) is what ends a `sleep`.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupt:
    """Whether a SIGINT arrived inside the block."""

    def __init__(self, wakeup: socket.socket | None = None) -> None:
        self.requested = False
        self._wakeup = wakeup

    def sleep(self, seconds: float) -> None:
        """`seconds`, or until a SIGINT arrives; not at all once one has."""
        if self.requested:
            return
        if self._wakeup is None:
            time.sleep(seconds)
            return
        if select.select([self._wakeup], [], [], seconds)[0]:
            # Any signal with a Python handler writes its number: drain it, or every later sleep would end at once.
            with contextlib.suppress(BlockingIOError):
                self._wakeup.recv(4096)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    previous = signal.getsignal(signal.SIGINT)
    # Only the main thread may set a signal handler, and only a Python handler (KeyboardInterrupt's, or the
    # caller's) has anything to hold back: an ignored SIGINT stays ignored, a default one still ends the process.
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield Interrupt()
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    interrupt = Interrupt(reader)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    signal.signal(signal.SIGINT, interrupt._note)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(previous_fd)
        reader.close()
        writer.close()
    if interrupt.requested:
        # What the SIGINT would have done had it not been held back: usually raise KeyboardInterrupt.
        previous(signal.SIGINT, None)
