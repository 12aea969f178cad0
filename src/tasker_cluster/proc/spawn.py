"""Spawn an instance into its own session, its output piped through a log writer that rotates its log file.

Kept apart from stopping (`proc/groups.py`) so that `start-all` spawns before it imports psutil: that import then
overlaps the first instances' start instead of delaying it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from tasker_cluster.errors import ClusterError
from tasker_cluster.proc import log_writer

if TYPE_CHECKING:
    from tasker_cluster.config.model import LogRotation

_CMDLINE_WAIT = 2.0

# (create time, command line) of a spawned process as the kernel reports it; None once it has exited.
Identity = tuple[float, list[str]] | None


def _logged_at_once(timeout: float) -> bool:
    return True


class Spawned(NamedTuple):
    """A started process: its pid, where its output starts in the log (so an early exit shows only this run's
    lines), its exit code so far (`poll`: None while it runs), its identity for the PID record, and
    `log_written(timeout)`: True once everything it wrote is in its log file (waits up to `timeout` seconds)."""

    pid: int
    log_offset: int
    poll: Callable[[], int | None]
    identity: Callable[[], Identity]
    log_written: Callable[[float], bool] = _logged_at_once


class Spawner(Protocol):
    """What start-all spawns with: the real one below, or a test's scripted one."""

    def __call__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, rotation: LogRotation
    ) -> Spawned: ...


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, rotation: LogRotation
) -> Spawned:
    """Start `argv` in a new session (so its whole group can be signalled), its output (stdout and stderr) going
    through a log writer (`proc/log_writer.py`) into `log_path`, rotated at `rotation.max_bytes`.

    ClusterError naming the program when it cannot be run.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_writer.rotate_if_full(str(log_path), rotation.max_bytes, rotation.keep)
    offset = log_path.stat().st_size if log_path.exists() else 0
    read_end, write_end = os.pipe()
    try:
        writer = _start_writer(log_path, rotation, read_end)
        try:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise ClusterError(
                f"cannot run {argv[0]!r}: {error.strerror or error}",
                "check the service's `command` in config/cluster.toml: the program must exist and be executable",
            ) from None
    finally:
        # The writer sees end of file once the instance and all it started have exited: nobody else may hold
        # the write end.
        os.close(read_end)
        os.close(write_end)
    return Spawned(popen.pid, offset, popen.poll, lambda: settled_identity(popen.pid), _writer_done(writer))


def _start_writer(log_path: Path, rotation: LogRotation, read_end: int) -> subprocess.Popen[bytes]:
    """The instance's log writer, in a session of its own and with an empty environment: no signal or
    environment marker meant for the instance reaches it, and it never counts as one of its processes."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", log_writer.__file__, str(log_path), str(rotation.max_bytes), str(rotation.keep)],
        cwd="/",
        env={},
        stdin=read_end,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _writer_done(writer: subprocess.Popen[bytes]) -> Callable[[float], bool]:
    def wait(timeout: float) -> bool:
        try:
            writer.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    return wait


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
