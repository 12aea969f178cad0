"""A Ctrl-C during bookkeeping that must finish is held back, then delivered as the handler would have."""

from __future__ import annotations

import os
import signal
import threading

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


def test_a_sigint_during_a_sleep_ends_it_and_the_wake_up_fd_is_restored() -> None:
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    # From another thread, as a terminal's Ctrl-C comes while the main thread sleeps in select().
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt), deferred_interrupt() as interrupt:
        timer.start()
        interrupt.sleep(600)  # pytest-timeout ends the test long before, should the SIGINT not end the sleep
        assert interrupt.requested
        interrupt.sleep(600)  # once requested, no sleep at all
    timer.join()
    assert signal.set_wakeup_fd(-1) == before
    signal.set_wakeup_fd(before)
