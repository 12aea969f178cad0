"""Spawn an instance into its own session, its output appended to a log file rotated at 10 MiB.

Apart from stopping (`proc/groups.py`), so that `start-all` spawns before importing psutil (~10 ms of CPU): that
import then overlaps the first instances' start instead of delaying it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from tasker_cluster.errors import ClusterError

LOG_ROTATE_BYTES = 10 * 1024 * 1024
LOG_KEEP = 3


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


class Spawned(NamedTuple):
    """A started process, and where its output starts in the log, so an early exit shows only this run's lines."""

    popen: subprocess.Popen[bytes]
    log_offset: int


def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Spawned:
    """Start `argv` in a new session (so its whole group can be signalled), output appended to `log_path`."""
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
    return Spawned(popen, offset)
