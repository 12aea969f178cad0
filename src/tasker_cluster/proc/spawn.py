"""Spawn an instance into its own session, its output appended to a log file rotated at 10 MiB.

Kept apart from stopping (`proc/groups.py`) so that `start-all` spawns before it imports psutil: that import then
overlaps the first instances' start instead of delaying it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.processes import ProcessStat, read_stat

LOG_ROTATE_BYTES = 10 * 1024 * 1024
LOG_KEEP = 3


class Spawned(NamedTuple):
    """A started process: its pid, where its output starts in the log (so an early exit shows only this run's
    lines), its exit code so far (`poll`: None while it runs), and its stat line read as it was spawned (its
    identity for the PID record; None only if it was reaped already)."""

    pid: int
    log_offset: int
    poll: Callable[[], int | None]
    stat: ProcessStat | None


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
    # Read before anything polls the process: until it is reaped, even an instant exit leaves its stat line.
    return Spawned(popen.pid, offset, popen.poll, read_stat(popen.pid))
