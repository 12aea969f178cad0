"""One instance's log on disk: its files newest first, their lines read backwards, and when each line was written.

The files are those the log writer keeps (`proc/log_writer.py`): `name.log`, then `name.log.1` .. `name.log.N`,
each with its line times (`<file>.times`). Bytes, not text, until a line is complete: splitting on b"\\n" never
cuts a UTF-8 character.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

from tasker_cluster.proc.log_writer import (
    TIMES_HEADER,
    TIMES_MAGIC,
    TIMES_RECORD,
    rotated_path,
    rotation_lock,
    times_path,
)

TAIL_BLOCK = 64 * 1024
_NS = 1e9


class RotatedFile(NamedTuple):
    """One rotated file of a log, open, with its line times (None when they were not asked for)."""

    path: Path
    file: BinaryIO
    times: LineTimes | None


class LogFiles(NamedTuple):
    """A log's files opened at one moment between two rotations: the current one (None when missing; the caller
    closes it) and the rotated ones, newest first."""

    current: BinaryIO | None
    rotated: list[RotatedFile]


@contextmanager
def rotated_files(log: Path, *, with_times: bool) -> Iterator[list[RotatedFile]]:
    """The rotated files of `log` (`name.log.1`, `name.log.2`, ...), newest first, all opened at one moment between
    two rotations (a listing during one would see a file twice or miss one); closed on exit."""
    with log_files(log, with_times=with_times, current=False) as files:
        yield files.rotated


@contextmanager
def log_files(log: Path, *, with_times: bool, current: bool = True) -> Iterator[LogFiles]:
    """`log`'s files, opened at one moment between two rotations; the rotated ones are closed on exit."""
    with ExitStack() as stack:
        found = []
        opened = None
        with rotation_lock(str(log), shared=True):
            if current:
                try:
                    opened = log.open("rb")
                except FileNotFoundError:
                    opened = None
            index = 1
            while True:
                path = Path(rotated_path(str(log), index))
                try:
                    file = stack.enter_context(path.open("rb"))
                except FileNotFoundError:
                    break
                found.append(RotatedFile(path, file, LineTimes(path, file) if with_times else None))
                index += 1
        yield LogFiles(opened, found)


def decode(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", errors="replace")


def last_line_end(file: BinaryIO, size: int, block_size: int = TAIL_BLOCK) -> int:
    """The offset just after the last newline before `size` (0 when there is none): where an unfinished last line
    starts."""
    position = size
    while position > 0:
        step = min(block_size, position)
        position -= step
        file.seek(position)
        found = file.read(step).rfind(b"\n")
        if found >= 0:
            return position + found + 1
    return 0


def lines_backward(file: BinaryIO, end: int, block_size: int = TAIL_BLOCK) -> Iterator[tuple[int, bytes]]:
    """The lines of `file` before `end`, newest first, each with the offset it starts at, without its newline.

    `end` is where the last of them ends: just after its newline, or (a rotated file cut in the middle of a line)
    where the file ends. Read block by block, so the last lines of a large log cost little; a line longer than a
    block is joined from its pieces once its start is found.
    """
    position = end
    later: list[bytes] = []  # pieces of the line being read, whose start is in an earlier block; last piece first
    first = True
    while position > 0:
        step = min(block_size, position)
        position -= step
        file.seek(position)
        block = file.read(step)
        if first and block.endswith(b"\n"):
            block = block[:-1]
        first = False
        parts = block.split(b"\n")
        cursor = position + len(block)
        for index in range(len(parts) - 1, 0, -1):
            part = parts[index]
            cursor -= len(part)
            yield cursor, _joined(part, later)
            later = []
            cursor -= 1
        later.append(parts[0])
    if later and (end > 0):
        yield 0, _joined(b"", later)


def _joined(head: bytes, later: list[bytes]) -> bytes:
    return head + b"".join(reversed(later)) if later else head


class LineTimes:
    """When each line of one open log file was written, from the line times the log writer keeps beside it.

    A line was written at the time of the last record at or before its first byte. Times are seconds since the
    epoch; None for a line written before the first record (a log not written through the log writer).
    """

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self._inode = os.fstat(file.fileno()).st_ino
        self._path = Path(times_path(str(path)))
        self._read = 0
        self._offsets: list[int] = []
        self._times: list[int] = []
        self.refresh()

    def refresh(self) -> None:
        """Take in the records written since the last call."""
        try:
            with self._path.open("rb") as times:
                if not self._read:
                    if times.read(TIMES_HEADER.size) != TIMES_HEADER.pack(TIMES_MAGIC, self._inode):
                        # The times of another file (or none yet): this file's lines have no recorded time.
                        return
                    self._read = TIMES_HEADER.size
                times.seek(self._read)
                data = times.read()
        except FileNotFoundError:
            return
        whole = len(data) - len(data) % TIMES_RECORD.size
        for offset, time_ns in TIMES_RECORD.iter_unpack(data[:whole]):
            self._offsets.append(offset)
            self._times.append(time_ns)
        self._read += whole

    def at(self, offset: int) -> float | None:
        """The time the line starting at `offset` was written."""
        index = bisect.bisect_right(self._offsets, offset) - 1
        return self._times[index] / _NS if index >= 0 else None
