"""Spawn an instance into its own session, its output appended to a log file rotated at 10 MiB.

Kept apart from stopping (`proc/groups.py`) so that `start-all` spawns before it imports psutil: that import then
overlaps the first instances' start instead of delaying it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from tasker_cluster.errors import ClusterError

LOG_ROTATE_BYTES = 10 * 1024 * 1024
LOG_KEEP = 3
_CMDLINE_WAIT = 2.0

# (create time, command line) of a spawned process as the kernel reports it; None once it has exited.
Identity = tuple[float, list[str]] | None


class Spawned(NamedTuple):
    """A started process: its pid, where its output starts in the log (so an early exit shows only this run's
    lines), its exit code so far (`poll`: None while it runs), and its identity for the PID record."""

    pid: int
    log_offset: int
    poll: Callable[[], int | None]
    identity: Callable[[], Identity]


class Spawner(Protocol):
    """What start-all spawns with: the real one below, or a test's scripted one."""

    def __call__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Spawned: ...


def rotate_log(path: Path, max_bytes: int = LOG_ROTATE_BYTES, keep: int = LOG_KEEP) -> None:
    """`name.log` -> `name.log.1` -> ... -> `name.log.<keep>` once it passes `max_bytes`; the oldest is dropped."""
    try:
        if path.stat().st_size <= max_bytes:
            return
    except FileNotFoundError:
        return
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Spawned:
    """Start `argv` in a new session (so its whole group can be signalled), output appended to `log_path`.

    ClusterError naming the program when it cannot be run.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log_path)
    with log_path.open("ab") as log:
        offset = log.tell()
        try:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise ClusterError(
                f"cannot run {argv[0]!r}: {error.strerror or error}",
                "check the service's `command` in config/cluster.toml: the program must exist and be executable",
            ) from None
    return Spawned(popen.pid, offset, popen.poll, lambda: settled_identity(popen.pid))


def settled_identity(pid: int) -> Identity:
    """The process's create time and command line once exec has finished; None if it is gone.

    Popen returns as soon as exec has replaced the memory map, a moment before the kernel publishes the new
    arguments: /proc/PID/cmdline can read empty then (1 spawn in 6 on this machine, bench/README.md).
    """
    # psutil is first needed once the instances are spawned: its import then overlaps their start.
    import psutil

    try:
        process = psutil.Process(pid)
        create_time = process.create_time()
        deadline = time.monotonic() + _CMDLINE_WAIT
        while True:
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = process.cmdline()
            if cmdline or time.monotonic() >= deadline:
                return create_time, cmdline
            time.sleep(0.001)
    except psutil.Error:
        return None
