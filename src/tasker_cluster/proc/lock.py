"""The start lock: starts (and stops) of one project take turns, so two concurrent starts never double-start."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project


@contextmanager
def start_lock(project: Project, *, timeout: float, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Serialise starts: a second `start-all` waits here, then finds the first one's instances running."""
    project.pids_dir.mkdir(parents=True, exist_ok=True)
    with open(project.start_lock, "a+") as lock:
        _acquire(lock, project.start_lock, timeout, on_wait)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _acquire(lock: IO[str], path: Path, timeout: float, on_wait: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.005
    waiting = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _lock_holder(path)
        if not waiting:
            on_wait(f"waiting for another start ({holder}) to finish")
            waiting = True
        if time.monotonic() >= deadline:
            raise ClusterError(
                f"another `cluster start` ({holder}) has held {path} for over {timeout:g} s",
                "wait for it to finish, or stop it, then run the command again",
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "unknown pid"
