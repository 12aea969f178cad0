"""The log writer on real files: rotation at line ends, the files kept, the name followed, the line times."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tasker_cluster.config.model import LogRotation
from tasker_cluster.proc.log_writer import TIMES_HEADER, TIMES_RECORD, LogWriter, rotate, times_path
from tasker_cluster.proc.spawn import LogWriterProcess


class StepClock:
    """A clock in ns that moves `step` ns per reading."""

    def __init__(self, step: int = 1_000_000) -> None:
        self.now = 1_800_000_000 * 10**9
        self.step = step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def _kept(log: Path) -> list[Path]:
    """The log's files oldest first: log.N .. log.1, log."""
    rotated = [path for path in log.parent.glob(log.name + ".[0-9]*") if not path.name.endswith(".times")]
    return [*sorted(rotated, key=lambda path: -int(path.suffix[1:])), log]


def _lines(paths: list[Path]) -> list[bytes]:
    return b"".join(path.read_bytes() for path in paths).splitlines()


def _records(log: Path) -> list[tuple[int, int]]:
    data = Path(times_path(str(log))).read_bytes()[TIMES_HEADER.size :]
    return [TIMES_RECORD.unpack_from(data, start) for start in range(0, len(data), TIMES_RECORD.size)]


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 4096])
def test_rotates_at_line_ends_below_the_limit_and_keeps_the_configured_number(tmp_path: Path, chunk_size: int) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=100, keep=2, clock=StepClock())
    data = b"".join(b"line %04d ..............\n" % number for number in range(40))  # 25 bytes a line

    for start in range(0, len(data), chunk_size):
        writer.write(data[start : start + chunk_size])
    writer.close()

    files = _kept(log)
    assert [path.name for path in files] == ["w.log.2", "w.log.1", "w.log"]
    assert all(path.stat().st_size <= 100 and path.read_bytes().endswith(b"\n") for path in files)
    # The newest lines, whole and in order: only what went beyond the kept files is gone.
    assert _lines(files) == data.splitlines()[-len(_lines(files)) :]
    assert len(_lines(files)) >= 2 * 4


def test_keep_zero_drops_the_old_file_at_rotation(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=30, keep=0)

    writer.write(b"first line of twenty-five\n" + b"second line of twenty-fiv\n")
    writer.close()

    assert sorted(path.name for path in tmp_path.iterdir()) == [".w.log.lock", "w.log", "w.log.times"]
    assert log.read_bytes() == b"second line of twenty-fiv\n"


def test_a_line_longer_than_the_limit_gets_a_file_of_its_own_and_is_cut_only_past_twice_the_limit(
    tmp_path: Path,
) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=100, keep=9)

    writer.write(b"short\n")
    writer.write(b"L" * 150)
    writer.write(b"L" * 49 + b"\n")
    writer.write(b"E" * 450)
    writer.write(b"\nafter\n")
    writer.close()

    contents = [path.read_bytes() for path in _kept(log)]
    assert contents == [b"short\n", b"L" * 199 + b"\n", b"E" * 200, b"E" * 200, b"E" * 50 + b"\nafter\n"]


def test_a_renamed_or_deleted_log_is_recreated_by_the_next_output(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=10_000, keep=3)
    writer.write(b"before the rename\n")

    os.replace(log, tmp_path / "moved.log")
    writer.write(b"after the rename\n")
    log.unlink()
    writer.write(b"after the delete\n")
    writer.close()

    assert (tmp_path / "moved.log").read_bytes() == b"before the rename\n"
    assert log.read_bytes() == b"after the delete\n"


def test_line_times_record_the_offset_of_the_first_output_of_each_millisecond(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    clock = StepClock(step=400_000)  # 0.4 ms a write: some writes share a millisecond
    writer = LogWriter(str(log), max_bytes=10_000, keep=3, clock=clock)

    offsets = []
    for number in range(6):
        offsets.append(log.stat().st_size if log.exists() else 0)
        writer.write(b"line %d\n" % number)
    writer.close()

    records = _records(log)
    times = [clock.now - (5 - number) * 400_000 for number in range(6)]
    expected = [(offsets[i], times[i]) for i in range(6) if i == 0 or times[i] // 10**6 != times[i - 1] // 10**6]
    assert records == expected
    assert len(records) < 6


def test_rotated_line_times_follow_their_log_and_name_its_inode(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=20, keep=3, clock=StepClock())

    writer.write(b"first file line\n")
    writer.write(b"second file line\n")
    writer.close()

    rotated = tmp_path / "w.log.1"
    assert rotated.read_bytes() == b"first file line\n"
    for path in (rotated, log):
        header = Path(times_path(str(path))).read_bytes()[: TIMES_HEADER.size]
        assert TIMES_HEADER.unpack(header)[1] == path.stat().st_ino
        assert [offset for offset, _ in _records(path)] == [0]


def test_rotation_never_leaves_the_name_missing(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"old\n")
    inode = log.stat().st_ino

    rotate(str(log), keep=1)

    assert log.read_bytes() == b""
    assert (tmp_path / "w.log.1").stat().st_ino == inode
    assert not (tmp_path / ".w.log.new").exists()


@pytest.fixture
def writer_process() -> Iterator[LogWriterProcess]:
    process = LogWriterProcess()
    yield process
    process.close()


def _pipe_into(process: LogWriterProcess, log: Path, rotation: LogRotation) -> tuple[int, Callable[[float], bool]]:
    """A pipe whose read end the writer process now serves; returns its write end and `log_written`."""
    read_end, write_end = os.pipe()
    written = process.attach(read_end, log, rotation)
    os.close(read_end)
    return write_end, written


def test_one_writer_process_serves_several_pipes_and_exits_once_they_end_and_it_is_let_go(
    tmp_path: Path, writer_process: LogWriterProcess
) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    data = b"".join(b"%06d\n" % number for number in range(20_000))
    first_end, first_written = _pipe_into(writer_process, first, LogRotation(16384, 50))
    second_end, second_written = _pipe_into(writer_process, second, LogRotation(10**6, 3))
    pid = writer_process.pid
    assert pid is not None

    with os.fdopen(first_end, "wb") as pipe:
        pipe.write(data)
    with os.fdopen(second_end, "wb") as pipe:
        pipe.write(b"second log\n")

    assert first_written(60) and second_written(60)
    files = _kept(first)
    assert len(files) == len(data) // 16384 + 1
    assert b"".join(path.read_bytes() for path in files) == data
    assert second.read_bytes() == b"second log\n"
    # Taken before close(): dropping the writer's Popen may reap it at once, and a reaped pid has no Process to find.
    writer = psutil.Process(pid)
    writer_process.close()
    writer.wait(timeout=60)


def test_log_written_waits_for_what_the_pipe_still_holds_and_times_out_while_it_stays_open(
    tmp_path: Path, writer_process: LogWriterProcess
) -> None:
    log = tmp_path / "w.log"
    write_end, written = _pipe_into(writer_process, log, LogRotation(10**6, 3))
    os.write(write_end, b"last words\n")

    assert written(0.2) is False
    os.close(write_end)
    assert written(60) is True
    assert log.read_bytes() == b"last words\n"


def test_the_writer_process_ignores_a_stray_term_and_writes_on_until_end_of_input(
    tmp_path: Path, writer_process: LogWriterProcess
) -> None:
    log = tmp_path / "w.log"
    write_end, written = _pipe_into(writer_process, log, LogRotation(16384, 3))
    os.write(write_end, b"before\n")
    while not (log.exists() and log.read_bytes()):
        time.sleep(0.01)

    assert writer_process.pid is not None
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        os.kill(writer_process.pid, number)
    os.write(write_end, b"after the signals\n")
    os.close(write_end)

    assert written(60)
    assert log.read_bytes() == b"before\nafter the signals\n"


def test_a_killed_writer_is_replaced_at_the_next_attach(tmp_path: Path, writer_process: LogWriterProcess) -> None:
    write_end, _ = _pipe_into(writer_process, tmp_path / "a.log", LogRotation(16384, 3))
    killed = writer_process.pid
    assert killed is not None
    victim = psutil.Process(killed)
    os.kill(killed, signal.SIGKILL)
    victim.wait(timeout=60)
    os.close(write_end)

    second_end, written = _pipe_into(writer_process, tmp_path / "b.log", LogRotation(16384, 3))
    os.write(second_end, b"to the new writer\n")
    os.close(second_end)

    assert writer_process.pid != killed
    assert written(60)
    assert (tmp_path / "b.log").read_bytes() == b"to the new writer\n"
