"""The log writer: sits between the instances and `.logs/<name>.log`, rotates each log while its instance runs, and
records when each line was written.

    instance (its own session) --pipe--> log writer (another session) --> name.log, name.log.1 .. name.log.<keep>
    instance (its own session) --pipe-->     (one per command that         name.log.times, name.log.1.times ..
                                              starts instances)

One writer serves every instance a command starts: the pipes reach it over a unix socket (SCM_RIGHTS). It appends
what it reads as it reads it (no buffering: `cluster logs -f` sees a line as soon as it is written) and exits once
every pipe has reached end of file (every holder of its write end, the instance and anything it started, has
exited) and the command that started them has ended. It is never signalled: in its own session it is no part of
any instance (stop, status and crash handling see only the instances' sessions), and it carries none of their
environment.

Rotation happens at the configured size, at a line end: each file holds whole lines, up to `max_bytes`, unless a
line does not fit (it then ends its file) or runs past twice the limit (it is cut there, like a line that never
ends). The
current file is never missing: the old one is hard-linked to `.1` and a new one renamed over the name.

The name is followed: if `name.log` is renamed or deleted under it, the next output recreates it.

Line times: `<log>.times` holds, after a header naming its log file's inode, 16-byte records (byte offset in the
log, time in ns since the epoch), one for the first output of each millisecond. A line was written at the time of
the last record at or before its first byte: to the millisecond when the writer keeps up with the instance, and
within the writer's lag otherwise.

Run as a script (`python -I -S log_writer.py CONTROL_FD`, standard library only), so it starts fast and imports
nothing of the project; `proc/spawn.py` starts it and hands it the pipes.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# What one read from the pipe returns at most: the pipe's own capacity on Linux.
READ_SIZE = 64 * 1024
TIMES_SUFFIX = ".times"
TIMES_MAGIC = b"tasker-line-times-1\n"
TIMES_HEADER = struct.Struct("<20sQ")
TIMES_RECORD = struct.Struct("<QQ")
_NS_PER_MS = 1_000_000
_MODE = 0o644


def times_path(log: str) -> str:
    """The line times of the log file at `log` (a current or a rotated one)."""
    return log + TIMES_SUFFIX


def rotated_path(log: str, index: int) -> str:
    """`name.log` -> `name.log.<index>`; index 0 is the current file."""
    return f"{log}.{index}" if index else log


@contextmanager
def rotation_lock(log: str, *, shared: bool) -> Iterator[None]:
    """Held exclusively while `log` rotates, shared by a reader listing its rotated files: while the files shift
    up by one, a listing would see one twice or miss one. A reader that cannot create the lock file reads
    without it."""
    try:
        fd = os.open(_lock_path(log), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _MODE)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _lock_path(log: str) -> str:
    return os.path.join(os.path.dirname(log), "." + os.path.basename(log) + ".lock")


def rotate(log: str, keep: int) -> None:
    """Shift `log.1..` up by one (the oldest beyond `keep` dropped) and move `log` to `log.1`, with their times.

    The current name never goes missing: `log` is hard-linked to `log.1`, then replaced by an empty file.
    """
    with rotation_lock(log, shared=False):
        _rotate(log, keep)


def _rotate(log: str, keep: int) -> None:
    for times in (True, False):
        _shift(log, keep, times=times)
        current = _name(log, 0, times=times)
        temporary = os.path.join(os.path.dirname(current), "." + os.path.basename(current) + ".new")
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _MODE))
        os.replace(temporary, current)


def rotate_if_full(log: str, max_bytes: int, keep: int) -> None:
    """Rotate `log` when it has reached `max_bytes` (a start rotates what the last run filled)."""
    try:
        if os.stat(log).st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    rotate(log, keep)


def _name(log: str, index: int, *, times: bool) -> str:
    path = rotated_path(log, index)
    return times_path(path) if times else path


def _shift(log: str, keep: int, *, times: bool) -> None:
    with suppress(FileNotFoundError):
        os.unlink(_name(log, keep, times=times))
    for index in range(keep - 1, 0, -1):
        with suppress(FileNotFoundError):
            os.replace(_name(log, index, times=times), _name(log, index + 1, times=times))
    if keep:
        with suppress(FileNotFoundError):
            os.link(_name(log, 0, times=times), _name(log, 1, times=times))


class LogWriter:
    """Appends chunks read from an instance to its log, rotating at line ends and recording line times."""

    def __init__(self, log: str, max_bytes: int, keep: int, clock: Callable[[], int] = time.time_ns) -> None:
        self.log = log
        self.max_bytes = max_bytes
        self.keep = keep
        self._clock = clock
        self._fd = -1
        self._times_fd = -1
        self._identity: tuple[int, int] | None = None
        self.size = 0
        self._mid_line = False
        self._last_ms = -1

    def write(self, chunk: bytes) -> None:
        """Append `chunk`, rotating at the line end nearest the size limit; reopens the name if it was moved."""
        if not self._still_named():
            self._open()
        now = self._clock()
        while True:
            cut = self._room_for(chunk)
            if cut:
                self._stamp(now)
                self._append(chunk[:cut])
            chunk = chunk[cut:]
            if not chunk:
                return
            self._rotate()

    def close(self) -> None:
        for fd in (self._fd, self._times_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._times_fd = -1

    def _room_for(self, chunk: bytes) -> int:
        """How much of `chunk` goes into the current file: all of it, or up to the line end where it rotates."""
        room = self.max_bytes - self.size
        if len(chunk) <= room:
            return len(chunk)
        last = chunk.rfind(b"\n", 0, max(room, 0)) + 1
        if last:
            return last
        if self.size and not self._mid_line:
            return 0
        # A line that does not fit: it ends this file, unless it runs past twice the limit (it is cut there).
        limit = max(2 * self.max_bytes - self.size, 0)
        return chunk.find(b"\n", 0, limit) + 1 or min(len(chunk), limit)

    def _append(self, data: bytes) -> None:
        if not data:
            return
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)
        self._mid_line = not data.endswith(b"\n")

    def _stamp(self, now_ns: int) -> None:
        millisecond = now_ns // _NS_PER_MS
        if millisecond != self._last_ms:
            self._last_ms = millisecond
            os.write(self._times_fd, TIMES_RECORD.pack(self.size, now_ns))

    def _rotate(self) -> None:
        self.close()
        rotate(self.log, self.keep)
        self._open()

    def _open(self) -> None:
        self.close()
        os.makedirs(os.path.dirname(self.log) or ".", exist_ok=True)
        self._fd = os.open(self.log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _MODE)
        status = os.fstat(self._fd)
        self._identity = (status.st_dev, status.st_ino)
        self.size = status.st_size
        if self.size:
            self._mid_line = os.pread(self._fd, 1, self.size - 1) != b"\n"
        self._last_ms = -1
        self._times_fd = _open_times(times_path(self.log), status.st_ino)

    def _still_named(self) -> bool:
        if self._fd < 0:
            return False
        try:
            status = os.stat(self.log)
        except FileNotFoundError:
            return False
        return (status.st_dev, status.st_ino) == self._identity


def _open_times(path: str, inode: int) -> int:
    """The line times of the log with `inode`, started afresh when they belong to another file."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _MODE)
    header = os.pread(fd, TIMES_HEADER.size, 0)
    if header != TIMES_HEADER.pack(TIMES_MAGIC, inode):
        os.ftruncate(fd, 0)
        os.write(fd, TIMES_HEADER.pack(TIMES_MAGIC, inode))
    return fd


# One attach request: "<log path>\t<max_bytes>\t<keep>\t<id>", the pipe's read end passed with it (SCM_RIGHTS).
ATTACH_SIZE = 8192


class Attached(NamedTuple):
    writer: LogWriter
    ident: bytes


def serve(control: socket.socket) -> None:
    """Write every pipe handed over `control` into its log until each has reached end of file; then, once
    `control` is closed too (the command that started the instances has ended), return.

    Output that cannot be written (a full disk) is dropped, never left in the pipe: an instance must never block
    on its own output. When a pipe ends, `done <id>` goes back over `control` (while it is open): its log holds
    everything that instance and what it started wrote.
    """
    poller = select.poll()
    poller.register(control, select.POLLIN)
    pipes: dict[int, Attached] = {}
    listening = True
    while listening or pipes:
        for fd, _ in poller.poll():
            if fd == control.fileno():
                listening = _attach(control, poller, pipes)
                if not listening:
                    poller.unregister(fd)
                continue
            chunk = os.read(fd, READ_SIZE)
            attached = pipes[fd]
            if chunk:
                try:
                    attached.writer.write(chunk)
                except OSError:
                    attached.writer.close()
                continue
            attached.writer.close()
            poller.unregister(fd)
            os.close(fd)
            del pipes[fd]
            if listening:
                try:
                    control.send(b"done " + attached.ident)
                except OSError:
                    listening = False
    control.close()


def _attach(control: socket.socket, poller: select.poll, pipes: dict[int, Attached]) -> bool:
    """Take one attach request; False once `control` is closed."""
    message, fds, _, _ = socket.recv_fds(control, ATTACH_SIZE, 1)
    if not message:
        return False
    log, max_bytes, keep, ident = message.split(b"\t")
    pipes[fds[0]] = Attached(LogWriter(os.fsdecode(log), int(max_bytes), int(keep)), ident)
    poller.register(fds[0], select.POLLIN)
    return True


def main(argv: list[str]) -> int:
    """`log_writer.py CONTROL_FD`: serve the pipes handed over the socket at CONTROL_FD.

    A stray SIGTERM, SIGINT or SIGHUP (`pkill python`, a closing terminal) is ignored: without its writer an instance
    loses its output, and a program that does not ignore SIGPIPE dies at its next line. End of every pipe and of
    the control socket, or SIGKILL, ends it.
    """
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    serve(socket.socket(fileno=int(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
