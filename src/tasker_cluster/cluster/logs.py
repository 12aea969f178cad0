"""Instance logs: the last lines of each (reaching into rotated files), filtered, and followed as they grow, appear
late, are rotated or renamed.

Bytes, not text, until a line is complete: a line still being written (no newline yet) is held back so that it is
never shown as two lines, unless it outgrows MAX_LINE (a line that never ends).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from tasker_cluster.cluster.log_files import (
    TAIL_BLOCK,
    LineTimes,
    RotatedFile,
    decode,
    last_line_end,
    lines_backward,
    log_files,
    rotated_files,
)
from tasker_cluster.errors import ClusterError

if TYPE_CHECKING:
    from tasker_cluster.cluster.state import ClusterState
    from tasker_cluster.proc.records import InstanceRecord

# Per file and poll: bounds memory when a follower starts behind a burst; the loop skips its sleep while any
# follower still has bytes to read, so catching up is not slowed down either.
READ_CHUNK = 1024 * 1024
# A "line" that never ends (a progress bar without newlines) is shown in pieces of this size rather than held;
# every line shorter than this is shown whole, however many writes it arrived in.
MAX_LINE = 1024 * 1024
POLL_INTERVAL = 0.1
# How often (in polls) a follow looks for log files of instances nobody listed, e.g. started with a larger count.
DISCOVER_EVERY = 10

FileIdentity = tuple[int, int]


@dataclass(frozen=True)
class LogLine:
    """One line of an instance's log; `time` is when it was written (seconds since the epoch), None if unknown."""

    instance: str
    text: str
    time: float | None = None


class LogQuery(NamedTuple):
    """Which lines to show: of those written since `since` (seconds since the epoch; None: all) that match
    `pattern` (None: all), the last `count` (None: every one). `timestamps`: look up when each was written."""

    count: int | None = 20
    since: float | None = None
    pattern: re.Pattern[str] | None = None
    timestamps: bool = False

    @property
    def needs_times(self) -> bool:
        return self.timestamps or self.since is not None

    def matches(self, text: str) -> bool:
        return self.pattern is None or self.pattern.search(text) is not None


@dataclass(frozen=True)
class LogSource:
    """One instance's log: its current file (followed) and the rotated ones beside it (read for the tail); the
    instance's PID record, if it has one (`running_since` reads it when the log is missing)."""

    instance: str
    path: Path
    record: InstanceRecord | None = None


def running_since(source: LogSource) -> float | None:
    """When the instance of `source` started (seconds since the epoch) if it runs now, else None.

    A log missing while its instance runs is a silent instance, not a stopped one: the log writer
    (`proc/log_writer.py`) creates the file with the instance's first output.
    """
    from tasker_cluster.proc.records import liveness

    if source.record is None or not liveness(source.record).running:
        return None
    return source.record.create_time


@dataclass(frozen=True)
class Tail:
    """The end of a log: the lines wanted, oldest first; the current file's unfinished last line (None when there is
    none or it is not wanted); and the offset in the current file where following resumes (the unfinished line's
    start, so that it is shown once, whole, when it ends)."""

    lines: list[LogLine]
    partial: LogLine | None
    offset: int


_DURATION = re.compile(r"(?:([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d))")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """`--since`: a duration back from `now` ("30s", "10m", "2h", "1d", "1h30m") or a timestamp (ISO 8601:
    "2026-11-29T10:00:00", "2026-11-29 10:00", "2026-11-29"; local time unless it names its zone). Seconds since the
    epoch; ClusterError (exit 2) for anything else."""
    from datetime import datetime

    stripped = text.strip()
    if _DURATION.sub("", stripped) == "" and stripped:
        return now - sum(float(number) * _SECONDS[unit] for number, unit in _DURATION.findall(stripped))
    try:
        return datetime.fromisoformat(stripped).timestamp()
    except ValueError:
        raise ClusterError(
            f"--since {text!r} is neither a duration nor a timestamp",
            "give a duration back from now (30s, 10m, 2h, 1d, 1h30m) or a local time (2026-11-29T10:00:00, "
            "2026-11-29 10:00, 2026-11-29)",
            exit_code=2,
        ) from None


def compile_pattern(text: str) -> re.Pattern[str]:
    """`--grep`'s regular expression; ClusterError (exit 2) naming what is wrong with it."""
    try:
        return re.compile(text)
    except re.error as error:
        raise ClusterError(
            f"--grep {text!r} is not a valid regular expression: {error}",
            r"use Python's regular expression syntax (https://docs.python.org/3/library/re.html); escape special "
            r"characters to match them literally, e.g. 'GET /v1/tasks\?limit' or --grep 'error \(code'",
            exit_code=2,
        ) from None


def tail_of(
    file: BinaryIO,
    path: Path,
    instance: str,
    query: LogQuery,
    *,
    times: LineTimes | NoTimes | None = None,
    with_partial: bool = True,
    block_size: int = TAIL_BLOCK,
) -> Tail:
    """The lines `query` wants from the end of the log whose current file is open as `file` (`times`: its line
    times, when the caller has them), reaching into the rotated files (`name.log.1`, ...) when the current one has
    too few; read backwards, so a large log costs little.

    A line without a recorded time counts, for `since`, as written when its file last changed: a log not written
    through the log writer is shown whole unless it is older than `since`. `with_partial`: the unfinished last
    line is one of the lines shown (it is not when the log is followed: it is shown once it ends).
    """
    size = file.seek(0, os.SEEK_END)
    end = last_line_end(file, size, block_size)
    times = times if times is not None else line_times(path, file, query)
    file.seek(end)
    unfinished = decode(file.read(size - end))
    partial = None
    changed = os.fstat(file.fileno()).st_mtime
    if with_partial and unfinished and _since_ok(query, times.at(end), changed) and query.matches(unfinished):
        partial = LogLine(instance, unfinished, times.at(end))
    budget = None if query.count is None else max(query.count - (partial is not None), 0)
    found: list[LogLine] = []
    if budget != 0:
        for line in _newest_first(file, path, times, end, instance, query, block_size):
            found.append(line)
            if len(found) == budget:
                break
    return Tail(found[::-1], partial, end)


def _newest_first(
    file: BinaryIO,
    path: Path,
    times: LineTimes | NoTimes,
    end: int,
    instance: str,
    query: LogQuery,
    block_size: int,
) -> Iterator[LogLine]:
    """The wanted lines of the current file up to `end`, then of each rotated file, newest first."""
    if (yield from _wanted_lines(file, times, end, instance, query, block_size)):
        return
    with rotated_files(path, with_times=query.needs_times) as rotated:
        for older in _older_than(file, rotated):
            size = older.file.seek(0, os.SEEK_END)
            older_times = older.times or NoTimes()
            if (yield from _wanted_lines(older.file, older_times, size, instance, query, block_size)):
                return


def _older_than(file: BinaryIO, rotated: list[RotatedFile]) -> list[RotatedFile]:
    """The rotated files older than the open `file`: all of them, or those after it once it was rotated too."""
    identity = _identity(os.fstat(file.fileno()))
    for index, older in enumerate(rotated):
        if _identity(os.fstat(older.file.fileno())) == identity:
            return rotated[index + 1 :]
    return rotated


def _wanted_lines(
    file: BinaryIO, times: LineTimes | NoTimes, end: int, instance: str, query: LogQuery, block_size: int
) -> Generator[LogLine, None, bool]:
    """The lines of one file that `query` wants, newest first; returns True at the first line written before
    `query.since` (nothing older is wanted)."""
    changed = os.fstat(file.fileno()).st_mtime
    for offset, raw in lines_backward(file, end, block_size):
        time = times.at(offset)
        if not _since_ok(query, time, changed):
            return True
        text = decode(raw)
        if query.matches(text):
            yield LogLine(instance, text, time)
    return False


def _since_ok(query: LogQuery, time: float | None, changed: float) -> bool:
    return query.since is None or (time if time is not None else changed) >= query.since


class NoTimes:
    """Line times nobody asked for: nothing is read."""

    def refresh(self) -> None:
        pass

    def at(self, offset: int) -> float | None:
        return None


def line_times(path: Path, file: BinaryIO, query: LogQuery) -> LineTimes | NoTimes:
    """The line times of the open log file at `path`, read only when `query` needs them."""
    return LineTimes(path, file) if query.needs_times else NoTimes()


class LogFollower:
    """Follows one log path, as `tail -F` does: reads only new bytes; when the name comes to mean another file
    (rotated, renamed, deleted and recreated), finishes the old file and reads the new one from its start; when the
    file is truncated in place, reads it again from the start."""

    def __init__(self, source: LogSource, query: LogQuery = LogQuery()) -> None:
        self.source = source
        self.query = query
        self._file: BinaryIO | None = None
        self._identity: FileIdentity | None = None
        self._times: LineTimes | NoTimes = NoTimes()
        self._pending = b""
        self._pending_offset = 0
        self.behind = False

    def start_at_tail(self, *, with_partial: bool = False) -> Tail | None:
        """Open the log and return the lines its query wants from its end; polls continue right after them, from
        the same open file, so a rotation between the tail and the first poll loses no line. None when there is no
        log yet."""
        if not self._open():
            return None
        assert self._file is not None
        tail = tail_of(
            self._file, self.source.path, self.source.instance, self.query, times=self._times, with_partial=with_partial
        )
        self._file.seek(tail.offset)
        self._pending_offset = tail.offset
        return tail

    def poll(self) -> list[LogLine]:
        """Complete lines written since the last poll that the query wants (none while the file does not exist)."""
        if self._file is None and not self._open():
            return []
        lines = self._read()
        if self._was_replaced():
            # Lines written to the old file just before it was moved aside still belong to the output, and so do
            # those of files rotated since (a fast writer rotates several times between two polls).
            lines += self._read_to_end()
            lines += self._flush_pending()
            with log_files(self.source.path, with_times=self.query.needs_times) as files:
                for newer in self._rotated_since(files.rotated):
                    lines += self._read_whole(newer)
            self.close()
            # Opened with the rotated files: whatever rotated while they were read is still in this one.
            if files.current is not None:
                self._adopt(files.current)
                lines += self._read()
        return [line for line in lines if self.query.matches(line.text)]

    def close(self) -> None:
        self.behind = False
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rotated_since(self, rotated: list[RotatedFile]) -> list[RotatedFile]:
        """The rotated files that were current after the open one, oldest first: those newer than it in the
        rotation, or, once it was dropped as the oldest, every rotated file not older than it. None when it was
        renamed away by hand."""
        assert self._file is not None
        status = os.fstat(self._file.fileno())
        stats = [os.fstat(older.file.fileno()) for older in rotated]
        for index, other in enumerate(stats):
            if _identity(other) == _identity(status):
                return rotated[:index][::-1]
        if status.st_nlink:
            return []
        return [older for older, other in zip(rotated, stats, strict=True) if other.st_mtime_ns >= status.st_mtime_ns][
            ::-1
        ]

    def _read_whole(self, rotated: RotatedFile) -> list[LogLine]:
        """Every line of a rotated file, read through this follower (which then follows nothing until reopened)."""
        self.close()
        self._file = rotated.file
        self._times = rotated.times or NoTimes()
        self._pending = b""
        self._pending_offset = 0
        rotated.file.seek(0)
        lines = self._read_to_end() + self._flush_pending()
        self._file = None
        return lines

    def _open(self) -> bool:
        try:
            file = self.source.path.open("rb")
        except FileNotFoundError:
            return False
        self._adopt(file)
        return True

    def _adopt(self, file: BinaryIO) -> None:
        """Follow `file`, the current file of the log, from its start."""
        self._file = file
        self._identity = _identity(os.fstat(file.fileno()))
        self._times = line_times(self.source.path, file, self.query)
        self._pending = b""
        self._pending_offset = 0

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
            self._pending_offset = 0
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
        self._times.refresh()
        parts = (self._pending + chunk).split(b"\n")
        self._pending = parts.pop()
        lines = []
        for part in parts:
            lines.append(self._line(part))
            self._pending_offset += 1
        if len(self._pending) >= MAX_LINE:
            lines += self._flush_pending()
        return lines

    def _line(self, raw: bytes) -> LogLine:
        line = LogLine(self.source.instance, decode(raw), self._times.at(self._pending_offset))
        self._pending_offset += len(raw)
        return line

    def _flush_pending(self) -> list[LogLine]:
        if not self._pending:
            return []
        line = self._line(self._pending)
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
        query: LogQuery = LogQuery(),
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.followers = list(followers)
        self.discover = discover
        self.query = query
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
        self.followers += [
            LogFollower(source, self.query) for source in self.discover() if source.instance not in known
        ]


def select_sources(state: ClusterState, names: Sequence[str] = (), roles: Sequence[str] = ()) -> list[LogSource]:
    """The logs of the named instances or services plus every instance of the given roles; all when both are empty.

    `state` is observed with its logs (`observe(..., with_logs=True)`): a log file of one of the configured services'
    instances beyond the current count (`worker-a-3.log` after `start-all --workers 6`) can be read and followed too.
    UnknownInstance for a name that is neither an instance nor a service.
    """
    chosen = state.select(names, roles) if names or roles else state.instances
    return [LogSource(instance.name, state.project.log_file(instance.name), instance.record) for instance in chosen]


def _identity(status: os.stat_result) -> FileIdentity:
    return (status.st_dev, status.st_ino)
