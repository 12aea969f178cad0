"""The log-reading core on real files: tails, followers, the multiplexer, selection and prefix colors."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

from tasker_cluster.cluster.log_files import TAIL_BLOCK
from tasker_cluster.cluster.logs import (
    MAX_LINE,
    LogFollower,
    LogLine,
    LogMultiplexer,
    LogQuery,
    LogSource,
    select_sources,
    tail_of,
)
from tasker_cluster.cluster.state import ClusterState, observe
from tasker_cluster.config.load import load_config
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.log_writer import LogWriter
from tasker_cluster.project import Project
from tasker_cluster.ui.log_lines import PALETTE, prefix_color

from .conftest import append


def _follower(path: Path, name: str = "worker-a-1", count: int = 0) -> LogFollower:
    return LogFollower(LogSource(name, path), LogQuery(count))


def _texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


class TextTail(NamedTuple):
    """A tail's texts: the complete lines, the unfinished one, where following resumes."""

    lines: list[str]
    partial: str
    offset: int


def read_tail(path: Path, count: int | None, *, block_size: int = TAIL_BLOCK, **query: object) -> TextTail:
    """The tail a follow starts from (the unfinished line apart)."""
    with path.open("rb") as file:
        tail = tail_of(file, path, "w", LogQuery(count, **query), with_partial=False, block_size=block_size)  # type: ignore[arg-type]
        file.seek(tail.offset)
        partial = file.read().decode()
    return TextTail(_texts(tail.lines), partial, tail.offset)


def _state(project: Project) -> ClusterState:
    """What `cluster logs` observes: the configured instances and the logs they left."""
    return observe(project, load_config(project), check=False, with_logs=True)


def test_tail_reads_the_last_lines_across_many_blocks(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {number}\n" for number in range(1, 10001)))

    tail = read_tail(log, 3, block_size=64)

    assert tail.lines == ["line 9998", "line 9999", "line 10000"]
    assert tail.partial == ""
    assert tail.offset == log.stat().st_size


def test_tail_of_a_short_file_is_the_whole_file(tmp_path: Path) -> None:
    log = tmp_path / "short.log"
    log.write_text("only\ntwo\n")

    assert read_tail(log, 20, block_size=4).lines == ["only", "two"]


def test_tail_keeps_the_unfinished_last_line_apart_and_resumes_before_it(tmp_path: Path) -> None:
    log = tmp_path / "partial.log"
    log.write_bytes(b"one\r\ntwo\nthr")

    tail = read_tail(log, 5)

    assert tail.lines == ["one", "two"]
    assert tail.partial == "thr"
    assert tail.offset == len(b"one\r\ntwo\n")


def test_tail_of_zero_lines_shows_nothing_and_resumes_at_the_end(tmp_path: Path) -> None:
    log = tmp_path / "zero.log"
    log.write_text("a\nb\n")

    tail = read_tail(log, 0)

    assert tail.lines == []
    assert tail.offset == 4


def test_tail_replaces_invalid_utf8_instead_of_failing(tmp_path: Path) -> None:
    log = tmp_path / "binary.log"
    log.write_bytes(b"caf\xc3\xa9 \xff\n")

    assert read_tail(log, 1).lines == ["caf\xe9 \ufffd"]


def test_follower_returns_only_lines_appended_after_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("old 1\nold 2\n")
    follower = _follower(log)
    follower.start_at_tail()

    append_text(log, "new 1\nnew 2\n")

    assert _texts(follower.poll()) == ["new 1", "new 2"]
    assert follower.poll() == []


def test_follower_holds_a_line_until_its_newline_arrives(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("")
    follower = _follower(log)
    follower.start_at_tail()

    append_text(log, "written in ")
    first = follower.poll()
    append_text(log, "two pieces\n")

    assert first == []
    assert _texts(follower.poll()) == ["written in two pieces"]


def test_follower_shows_an_endless_line_once_it_outgrows_the_line_limit(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("")
    follower = _follower(log)
    follower.start_at_tail()

    append_text(log, "x" * (MAX_LINE + 10))
    pieces = _texts(follower.poll()) + _texts(follower.poll())
    append_text(log, "\n")

    assert [len(text) for text in pieces] == [MAX_LINE]
    assert [len(text) for text in _texts(follower.poll())] == [10]


def test_follower_starts_reading_a_file_that_appears_later_from_its_first_line(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    follower = _follower(log)

    assert follower.start_at_tail() is None
    assert follower.poll() == []
    append_text(log, "hello\n")
    assert _texts(follower.poll()) == ["hello"]


def test_follower_finishes_the_rotated_file_then_reads_the_new_one_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("before\n")
    follower = _follower(log)
    follower.start_at_tail()

    append_text(log, "last old line\nunfinished")
    os.replace(log, tmp_path / "w.log.1")
    append_text(log, "first new line\n")

    assert _texts(follower.poll()) == ["last old line", "unfinished", "first new line"]


def test_follower_survives_the_file_being_missing_between_rotation_and_restart(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("before\n")
    follower = _follower(log)
    follower.start_at_tail()

    os.replace(log, tmp_path / "w.log.1")
    gone = follower.poll()
    append_text(log, "restarted\n")

    assert gone == []
    assert _texts(follower.poll()) == ["restarted"]


def test_follower_restarts_from_the_top_when_the_file_is_truncated_in_place(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("a long first generation of this log\n")
    follower = _follower(log)
    follower.start_at_tail()

    with log.open("w") as file:
        file.write("new\n")

    follower.poll()
    assert _texts(follower.poll()) == ["new"]


def test_follower_reads_every_file_rotated_between_two_polls_once_in_order(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=100, keep=20)
    writer.write(b"before\n")
    follower = _follower(log)
    follower.start_at_tail()

    lines = [b"line %02d of twenty bytes\n" % number for number in range(30)]
    for line in lines:
        writer.write(line)
    writer.close()

    assert len(list(tmp_path.glob("w.log.[0-9]"))) > 5
    assert _texts(follower.poll()) == [line.decode().rstrip("\n") for line in lines]


def test_follower_after_the_followed_file_was_dropped_reads_the_rotated_files_newer_than_it(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    writer = LogWriter(str(log), max_bytes=50, keep=2)
    writer.write(b"first file\n")
    follower = _follower(log)
    follower.start_at_tail()

    for number in range(5):
        writer.write(b"a line that fills a file %d\n" % number)
    writer.close()

    shown = _texts(follower.poll())
    assert shown[-3:] == [f"a line that fills a file {number}" for number in (2, 3, 4)]
    assert len(shown) == len(set(shown))


def test_multiplexer_interleaves_logs_and_adds_discovered_ones_until_stopped(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("a1\n")
    followers = [_follower(first, "a")]
    followers[0].start_at_tail()
    discovered = [LogSource("a", first), LogSource("b", second)]
    stop = threading.Event()
    multiplexer = LogMultiplexer(followers, discover=lambda: discovered, interval=0.01)
    append_text(second, "b1\n")
    append_text(first, "a2\n")

    batches = multiplexer.follow(stop)
    batch = next(batches)
    stop.set()

    assert [(line.instance, line.text) for line in batch] == [("a", "a2"), ("b", "b1")]
    assert list(batches) == []
    assert [follower.source.instance for follower in multiplexer.followers] == ["a", "b"]


def test_select_sources_filters_by_role_and_service_in_topology_order(project: Project) -> None:
    workers = select_sources(_state(project), roles=["worker"])
    by_name = select_sources(_state(project), names=["worker-b", "orchestration-2"])

    assert [source.instance for source in workers] == ["worker-a-1", "worker-a-2", "worker-b-1"]
    assert [source.instance for source in by_name] == ["orchestration-2", "worker-b-1"]
    assert by_name[0].path == project.log_file("orchestration-2")


def test_select_sources_adds_logs_of_instances_beyond_the_count_but_not_foreign_files(project: Project) -> None:
    for name in ("worker-a-7", "worker-a-3", "postgres", "worker-c-1"):
        append(project, name, "x\n")

    names = [source.instance for source in select_sources(_state(project))]

    assert names[-2:] == ["worker-a-3", "worker-a-7"]
    assert "postgres" not in names
    assert "worker-c-1" not in names


def test_select_sources_rejects_unknown_names_listing_the_valid_ones(project: Project) -> None:
    with pytest.raises(ClusterError) as raised:
        select_sources(_state(project), names=["orchestration-1", "nope"])

    assert raised.value.message == "unknown instance nope"
    assert "orchestration-1, orchestration-2, worker-a-1, worker-a-2, worker-b-1" in raised.value.fix


def test_prefix_colors_differ_between_siblings_and_avoid_red() -> None:
    siblings = [prefix_color(f"worker-a-{index}") for index in range(1, len(PALETTE) + 1)]

    assert len(set(siblings)) == len(PALETTE)
    assert all("red" not in color for color in siblings)


def append_text(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


FIFTEEN = [f"line {number}" for number in range(1, 16)]


@pytest.mark.parametrize("count", [0, 1, 14, 15, 16, 20, 100])
@pytest.mark.parametrize("block_size", [7, 64, TAIL_BLOCK])
def test_tail_shows_the_last_n_lines_or_all_of_a_shorter_log(tmp_path: Path, count: int, block_size: int) -> None:
    log = tmp_path / "w.log"
    log.write_text("".join(f"{line}\n" for line in FIFTEEN))

    tail = read_tail(log, count, block_size=block_size)

    assert tail.lines == (FIFTEEN[-count:] if count else [])
    assert tail.partial == ""
    assert tail.offset == log.stat().st_size


@pytest.mark.parametrize("count", [0, 1, 2, 3, 20])
def test_tail_of_an_empty_log_is_empty(tmp_path: Path, count: int) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"")

    assert read_tail(log, count) == TextTail([], "", 0)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 20])
def test_tail_without_a_final_newline_keeps_the_last_line_apart(tmp_path: Path, count: int) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"one\ntwo\nthree\nfour")

    tail = read_tail(log, count, block_size=3)

    assert tail.lines == ["one", "two", "three"][-count:]
    assert tail.partial == "four"
    assert tail.offset == len(b"one\ntwo\nthree\n")


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_tail_returns_a_line_longer_than_the_read_block_whole(tmp_path: Path, count: int) -> None:
    log = tmp_path / "w.log"
    long = "x" * (3 * TAIL_BLOCK + 5)
    log.write_text(f"first\n{long}\nlast\n")

    tail = read_tail(log, count)

    assert tail.lines == ["first", long, "last"][-count:]
