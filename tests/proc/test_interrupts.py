"""A Ctrl-C during bookkeeping that must finish is held back, then delivered as the handler would have."""

from __future__ import annotations

import os
import signal

import pytest

from tasker_cluster.proc.interrupts import deferred_interrupt


def test_a_sigint_inside_the_block_lets_it_finish_then_raises_keyboard_interrupt() -> None:
    finished = False
    with pytest.raises(KeyboardInterrupt), deferred_interrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested
        finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_sigint_the_block_ends_normally_and_the_handler_is_restored() -> None:
    with deferred_interrupt() as interrupt:
        pass
    assert not interrupt.requested
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
