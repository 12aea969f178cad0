"""Instance log files: the last N lines of each, and following them as they grow, appear late or get rotated.

Bytes, not text, until a line is complete: splitting on b"\\n" never cuts a UTF-8 character, and a line still
being written (no newline yet) is held back so that it is never shown as two lines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from tasker_cluster.cluster.state import ClusterState

TAIL_BLOCK = 64 * 1024
# Per file and poll: bounds memory when a follower starts behind a burst; the loop skips its sleep while any
# follower still has bytes to read, so catching up is not slowed down either.
READ_CHUNK = 1024 * 1024
# A "line" that never ends (a progress bar without newlines) is shown in pieces of this size rather than held.
MAX_PENDING = 64 * 1024
POLL_INTERVAL = 0.1
# How often (in polls) a follow looks for log files of instances nobody listed, e.g. started with a larger count.
DISCOVER_EVERY = 10

FileIdentity = tuple[int, int]


@dataclass(frozen=True)
class LogLine:
    instance: str
    text: str


@dataclass(frozen=True)
class LogSource:
    """One instance's current log file (rotated copies `.log.1`.. are history and never followed)."""

    instance: str
    path: Path


@dataclass(frozen=True)
class Tail:
    """The end of a log file: complete lines, the unfinished last line, and where following should resume."""

    lines: list[str]
    partial: str
    offset: int


def decode(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", errors="replace")


def tail_of(file: BinaryIO, count: int, *, block_size: int = TAIL_BLOCK) -> Tail:
    """The last `count` complete lines of an open file, read backwards block by block so a large log costs little."""
    position = file.seek(0, os.SEEK_END)
    data = b""
    newlines = 0
    # count + 1 newlines guarantee that the earliest wanted line is whole; the partial tail needs none.
    while position > 0 and newlines <= count:
        step = min(block_size, position)
        position -= step
        file.seek(position)
        block = file.read(step)
        newlines += block.count(b"\n")
        data = block + data
    complete = data.rfind(b"\n") + 1
    lines = data[:complete].split(b"\n")[:-1]
    wanted = lines[len(lines) - count :] if count else []
    return Tail([decode(line) for line in wanted], decode(data[complete:]), position + complete)


class LogFollower:
    """Follows one log path: reads only new bytes; reopens from the start when the file is replaced or truncated."""

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self._file: BinaryIO | None = None
        self._identity: FileIdentity | None = None
        self._pending = b""
        self.behind = False

    def start_at_tail(self, count: int) -> Tail | None:
        """Open the log and return its last `count` lines; polls continue right after them, from the same open
        file, so a rotation between the tail and the first poll loses no line. None when there is no log yet."""
        if not self._open():
            return None
        assert self._file is not None
        tail = tail_of(self._file, count)
        self._file.seek(tail.offset)
        return tail

    def poll(self) -> list[LogLine]:
        """Complete lines written since the last poll (none while the file does not exist)."""
        if self._file is None and not self._open():
            return []
        lines = self._read()
        if self._was_replaced():
            # Lines written to the old file just before it was moved aside still belong to the output.
            lines += self._read_to_end()
            lines += self._flush_pending()
            self.close()
            if self._open():
                lines += self._read()
        return lines

    def close(self) -> None:
        self.behind = False
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> bool:
        try:
            file = self.source.path.open("rb")
        except FileNotFoundError:
            return False
        self._file = file
        self._identity = _identity(os.fstat(file.fileno()))
        self._pending = b""
        return True

    def _was_replaced(self) -> bool:
        assert self._file is not None
        try:
            status = os.stat(self.source.path)
        except FileNotFoundError:
            return True
        if _identity(status) != self._identity:
            return True
        if status.st_size < self._file.tell():
            # Truncated in place (copytruncate-style rotation): same file, new content from byte 0.
            self._file.seek(0)
            self._pending = b""
        return False

    def _read(self) -> list[LogLine]:
        assert self._file is not None
        chunk = self._file.read(READ_CHUNK)
        self.behind = len(chunk) == READ_CHUNK
        return self._split(chunk)

    def _read_to_end(self) -> list[LogLine]:
        lines = self._read()
        while self.behind:
            lines += self._read()
        return lines

    def _split(self, chunk: bytes) -> list[LogLine]:
        if not chunk:
            return []
        parts = (self._pending + chunk).split(b"\n")
        self._pending = parts.pop()
        lines = [LogLine(self.source.instance, decode(part)) for part in parts]
        if len(self._pending) >= MAX_PENDING:
            lines += self._flush_pending()
        return lines

    def _flush_pending(self) -> list[LogLine]:
        if not self._pending:
            return []
        line = LogLine(self.source.instance, decode(self._pending))
        self._pending = b""
        return [line]


class LogMultiplexer:
    """Follows several logs at once, in one thread, polling every `interval` seconds only while all are idle.

    Polling rather than inotify: there is no inotify binding among the dependencies, and a poll of 20 files costs
    one read() and one stat() each per poll.
    """

    def __init__(
        self,
        followers: Sequence[LogFollower],
        *,
        discover: Callable[[], Sequence[LogSource]] | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.followers = list(followers)
        self.discover = discover
        self.interval = interval

    def follow(self, stop: threading.Event) -> Iterator[list[LogLine]]:
        """Batches of new lines, in selection order within a batch, until `stop` is set."""
        polls = 0
        try:
            while not stop.is_set():
                if self.discover is not None and polls % DISCOVER_EVERY == 0:
                    self._add_new_sources()
                polls += 1
                batch = [line for follower in self.followers for line in follower.poll()]
                if batch:
                    yield batch
                if not any(follower.behind for follower in self.followers):
                    stop.wait(self.interval)
        finally:
            for follower in self.followers:
                follower.close()

    def _add_new_sources(self) -> None:
        assert self.discover is not None
        known = {follower.source.instance for follower in self.followers}
        self.followers += [LogFollower(source) for source in self.discover() if source.instance not in known]


def select_sources(state: ClusterState, names: Sequence[str] = (), roles: Sequence[str] = ()) -> list[LogSource]:
    """The logs of the named instances or services plus every instance of the given roles; all when both are empty.

    `state` is observed with its logs (`observe(..., with_logs=True)`): a log file of one of the configured services'
    instances beyond the current count (`worker-a-3.log` after `start-all --workers 6`) can be read and followed too.
    UnknownInstance for a name that is neither an instance nor a service.
    """
    chosen = state.select(names, roles) if names or roles else state.instances
    return [LogSource(instance.name, state.project.log_file(instance.name)) for instance in chosen]


def _identity(status: os.stat_result) -> FileIdentity:
    return (status.st_dev, status.st_ino)
