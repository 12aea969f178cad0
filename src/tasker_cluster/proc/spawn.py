"""Spawn an instance into its own session, its output piped through a log writer that rotates its log file.

Kept apart from stopping (`proc/groups.py`) so that `start-all` spawns before it imports psutil: that import then
overlaps the first instances' start instead of delaying it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from tasker_cluster.errors import ClusterError
from tasker_cluster.proc import log_writer
from tasker_cluster.proc.processes import ProcessStat, read_stat

if TYPE_CHECKING:
    from tasker_cluster.config.model import LogRotation


def _logged_at_once(timeout: float) -> bool:
    return True


class Spawned(NamedTuple):
    """A started process: its pid, where its output starts in the log (so an early exit shows only this run's
    lines), its exit code so far (`poll`: None while it runs), its stat line read as it was spawned (its identity for
    the PID record; None only if it was reaped already), and `log_written(timeout)`: True once everything it wrote is
    in its log file (waits up to `timeout` seconds)."""

    pid: int
    log_offset: int
    poll: Callable[[], int | None]
    stat: ProcessStat | None
    log_written: Callable[[float], bool] = _logged_at_once


class Spawner(Protocol):
    """What start-all spawns with: the real one below, or a test's scripted one."""

    def __call__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, rotation: LogRotation
    ) -> Spawned: ...


class LogWriterProcess:
    """The log writer (`proc/log_writer.py`) of the instances this process spawns: started with the first spawn or
    before it (`start`), in a session of its own with an empty environment (no signal or environment marker meant for
    an instance reaches it, and it never counts as one of an instance's processes), and handed each instance's pipe
    over a unix socket.
    One per process rather than per instance: an interpreter costs ~11 MiB (bench/README.md, "Log writer"). It
    outlives this process until every instance it serves has ended; a writer found dead is replaced."""

    def __init__(self) -> None:
        self._popen: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._done: set[bytes] = set()
        self._attached = 0
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def attach(self, read_end: int, log_path: Path, rotation: LogRotation) -> Callable[[float], bool]:
        """Hand over the read end of an instance's pipe (the caller then closes its own copy); returns
        `log_written(timeout)` for that instance. ClusterError when no writer can be started."""
        with self._lock:
            self._attached += 1
            ident = str(self._attached).encode()
            fields = [os.fsencode(log_path), str(rotation.max_bytes).encode(), str(rotation.keep).encode(), ident]
            for _ in range(2):
                try:
                    socket.send_fds(self._running(), [b"\t".join(fields)], [read_end])
                    return lambda timeout: self._wait_written(ident, timeout)
                except OSError:
                    # The writer is gone (killed): the next try starts another.
                    self._forget()
        raise ClusterError(
            "cannot start the log writer that writes the instances' output into .logs/",
            f"check that {sys.executable} runs: the log writer is {log_writer.__file__}",
        )

    def start(self) -> None:
        """Start the writer now rather than at the first spawn, so that its interpreter starts while this one is
        still busy on a single core (importing the start core, reading the topology) instead of beside the
        instances. Unused, it exits when this process ends. A writer that cannot start is left to the first spawn,
        which reports it."""
        with self._lock:
            try:
                self._running()
            except OSError:
                # The first spawn tries again and words the error.
                self._forget()

    def close(self) -> None:
        """Stop handing it pipes: it exits once the instances it serves have ended (a test's or a bench's end)."""
        with self._lock:
            self._forget()

    def _running(self) -> socket.socket:
        if self._control is None or self._popen is None or self._popen.poll() is not None:
            self._forget()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with theirs:
                self._popen = subprocess.Popen(
                    [sys.executable, "-I", "-S", log_writer.__file__, str(theirs.fileno())],
                    cwd="/",
                    env={},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,
                )
            self._control = ours
        return self._control

    def _forget(self) -> None:
        if self._control is not None:
            self._control.close()
        self._control = None
        self._popen = None
        self._done.clear()

    def _wait_written(self, ident: bytes, timeout: float) -> bool:
        """True once the writer has written everything of the pipe `ident` (it reached end of file), or is gone."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._done:
                remaining = deadline - time.monotonic()
                if self._control is None:
                    return True
                if remaining <= 0:
                    return False
                self._control.settimeout(remaining)
                try:
                    message = self._control.recv(64)
                except TimeoutError:
                    return False
                except OSError:
                    message = b""
                finally:
                    if self._control is not None:
                        self._control.settimeout(None)
                if not message:
                    return True
                self._done.add(message.removeprefix(b"done "))
            return True


# This process's writer: a CLI command's, or a test session's that starts clusters again and again.
LOG_WRITER = LogWriterProcess()


def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, rotation: LogRotation) -> Spawned:
    """Start `argv` in a new session (so its whole group can be signalled), its output (stdout and stderr) going
    through the log writer into `log_path`, rotated at `rotation.max_bytes` (`proc/log_writer.py`).

    ClusterError naming the program when it cannot be run.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_writer.rotate_if_full(str(log_path), rotation.max_bytes, rotation.keep)
    offset = log_path.stat().st_size if log_path.exists() else 0
    read_end, write_end = os.pipe()
    try:
        log_written = LOG_WRITER.attach(read_end, log_path, rotation)
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
    # Read before anything polls the process: until it is reaped, even an instant exit leaves its stat line.
    return Spawned(popen.pid, offset, popen.poll, read_stat(popen.pid), log_written)
