"""Logs of real running instances, through the real CLI: rotation while they run, lines in pieces, renames under
`logs -f`, --since, --grep and --timestamps on what the log writer recorded."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from tasker_cluster.proc.records import read_record

from .conftest import OUTPUT_DEADLINE, Talker
from .talker import burst_line

StartTalker = Callable[..., Talker]


def _wait_for_text(path: Path, text: bytes) -> None:
    """Until `text` is in the file (the log writer has written it); fails after the deadline."""
    deadline = time.monotonic() + OUTPUT_DEADLINE
    while not (path.exists() and text in path.read_bytes()):
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never reached {path}")
        time.sleep(0.02)


def _log_files(log: Path) -> list[Path]:
    """The log's files, oldest first."""
    rotated = [path for path in log.parent.glob(log.name + ".[0-9]*") if not path.name.endswith(".times")]
    return [*sorted(rotated, key=lambda path: -int(path.suffix[1:])), log]


def _writers(log: Path) -> list[psutil.Process]:
    """The log writers that have `log` open."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if not any(part.endswith("log_writer.py") for part in process.info["cmdline"] or []):
            continue
        try:
            if any(opened.path == str(log) for opened in process.open_files()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_fast_writer_is_rotated_while_it_runs_at_the_configured_size_keeping_the_configured_files(
    talker: StartTalker,
) -> None:
    instance = talker(max_bytes="64KiB", keep=2)

    instance.burst(lines=20_000, width=100)  # 2 MB, 30 times the limit
    _wait_for_text(instance.log, b"burst done 20000\n")

    files = _log_files(instance.log)
    assert [path.name for path in files] == ["talker-1.log.2", "talker-1.log.1", "talker-1.log"]
    # A line the limit falls into ends its file.
    assert all(path.stat().st_size <= 64 * 1024 + 100 for path in files)
    # Every line whole and none missing in what is kept: the newest lines, in order, up to the last one.
    kept = b"".join(path.read_bytes() for path in files).splitlines(keepends=True)
    assert kept[-1] == b"burst done 20000\n"
    first = int(kept[0][:6])
    assert kept[:-1] == [burst_line(number, 100) for number in range(first, 20_001)]
    assert len(kept) > 2 * 600


def test_logs_n_reaches_into_the_rotated_files(talker: StartTalker) -> None:
    instance = talker(max_bytes="16KiB", keep=3)
    instance.burst(lines=400, width=100)  # three files' worth
    _wait_for_text(instance.log, b"burst done 400\n")

    shown = instance.cli("logs", "-n", "301")

    assert shown.returncode == 0, shown.stderr
    expected = [burst_line(number, 100).decode().rstrip("\n") for number in range(101, 401)] + ["burst done 400"]
    assert shown.stdout.splitlines() == [f"talker-1 | {line}" for line in expected]


def test_follow_prints_a_long_line_that_arrives_in_several_writes_once_whole(talker: StartTalker) -> None:
    instance = talker()
    instance.write(b"ready to follow\n")
    followed = instance.follow("-n", "1")
    followed.wait_for("talker-1 | ready to follow")

    # 120 KiB in three writes, with time for `logs -f` to poll between them.
    for piece in (b"a" * 40_960, b"b" * 40_960, b"c" * 40_960 + b"\n"):
        instance.write(piece)
        time.sleep(0.3)
    instance.write(b"the next line\n")

    shown = followed.wait_for("talker-1 | the next line")
    assert shown == ["talker-1 | " + "a" * 40_960 + "b" * 40_960 + "c" * 40_960, "talker-1 | the next line"]


def test_follow_shows_every_line_once_across_many_rotations(talker: StartTalker) -> None:
    instance = talker(max_bytes="16KiB", keep=50)
    instance.write(b"ready to follow\n")
    followed = instance.follow("-n", "1")
    followed.wait_for("talker-1 | ready to follow")

    instance.burst(lines=3000, width=60)  # 180 KB: eleven rotations, as fast as the instance can write

    shown = followed.wait_for("talker-1 | burst done 3000")
    assert len(_log_files(instance.log)) > 10
    assert shown == [f"talker-1 | {burst_line(n, 60).decode().rstrip()}" for n in range(1, 3001)] + [
        "talker-1 | burst done 3000"
    ]


def test_follow_goes_on_after_the_log_is_renamed_and_plain_logs_finds_it_again(talker: StartTalker) -> None:
    instance = talker()
    instance.write(b"before the rename\n")
    followed = instance.follow("-n", "1")
    followed.wait_for("talker-1 | before the rename")

    os.replace(instance.log, instance.log.with_name("talker-1.log.moved"))
    instance.write(b"after the rename\n")
    # Time for `logs -f` to notice the rename and wait for the name to mean a file again.
    time.sleep(0.5)
    instance.write(b"later still\n")

    assert followed.wait_for("talker-1 | later still")[-2:] == ["talker-1 | after the rename", "talker-1 | later still"]
    plain = instance.cli("logs", "-n", "2")
    assert (plain.returncode, plain.stdout) == (0, "talker-1 | after the rename\ntalker-1 | later still\n")
    assert instance.log.with_name("talker-1.log.moved").read_bytes().endswith(b"before the rename\n")


def test_the_log_writer_is_no_part_of_the_instance_and_ends_when_it_stops(talker: StartTalker) -> None:
    instance = talker()
    record = read_record(instance.project, "talker-1")
    assert record is not None
    [writer] = _writers(instance.log)

    assert os.getsid(writer.pid) != os.getsid(record.pid)
    assert "TASKER_INSTANCE_ID" not in writer.environ()

    stopped = instance.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    writer.wait(timeout=OUTPUT_DEADLINE)
    assert _writers(instance.log) == []


def test_since_shows_only_lines_written_after_the_given_time_also_from_rotated_files(talker: StartTalker) -> None:
    instance = talker(max_bytes="4KiB", keep=20)
    instance.burst(lines=100, width=100)  # earlier lines over three files
    _wait_for_text(instance.log, b"burst done 100\n")
    # Every earlier line is in its file before this moment, every later one is written after it.
    boundary = time.time()
    time.sleep(0.01)
    for number in range(1, 81):
        instance.write(b"later line %d with some padding to fill the files %s\n" % (number, b"=" * 40))

    _wait_for_text(instance.log, b"later line 80 ")
    since = instance.cli("logs", "--since", datetime.fromtimestamp(boundary).isoformat())
    recent = instance.cli("logs", "--since", "10m")

    assert since.returncode == 0, since.stderr
    assert [line.split(" with")[0] for line in since.stdout.splitlines()] == [
        f"talker-1 | later line {number}" for number in range(1, 81)
    ]
    assert len(_log_files(instance.log)) > 3
    assert len(recent.stdout.splitlines()) == 1 + 100 + 1 + 80  # listening, burst, done, later lines


def test_grep_filters_the_tail_and_the_followed_lines(talker: StartTalker) -> None:
    instance = talker()
    instance.write(b"GET /health 200\nPOST /v1/tasks 500\nGET /v1/tasks 200\nPOST /v1/tasks 201\n")
    _wait_for_text(instance.log, b"POST /v1/tasks 201\n")

    shown = instance.cli("logs", "--grep", r"POST .* 5\d\d|tasks 201", "-n", "5")
    instance.write(b"ready for errors\n")
    followed = instance.follow("--grep", "error", "-n", "1")
    followed.wait_for("talker-1 | ready for errors")
    instance.write(b"an error line\nan ordinary line\nanother error\n")

    assert shown.stdout.splitlines() == ["talker-1 | POST /v1/tasks 500", "talker-1 | POST /v1/tasks 201"]
    assert followed.wait_for("talker-1 | another error") == ["talker-1 | an error line", "talker-1 | another error"]


def test_a_bad_grep_pattern_or_since_is_a_usage_error_with_a_fix(talker: StartTalker) -> None:
    instance = talker()

    pattern = instance.cli("logs", "--grep", "error (code")
    since = instance.cli("logs", "--since", "ten minutes")

    assert pattern.returncode == 2
    assert pattern.stderr.startswith("error: --grep 'error (code' is not a valid regular expression: missing )")
    assert "\n  fix: " in pattern.stderr and "Traceback" not in pattern.stderr
    assert since.returncode == 2
    assert since.stderr.startswith("error: --since 'ten minutes' is neither a duration nor a timestamp")
    assert "\n  fix: give a duration back from now (30s, 10m" in since.stderr


def test_timestamps_prefix_the_time_each_line_was_written(talker: StartTalker) -> None:
    instance = talker()
    before = time.time()
    instance.write(b"first\n")
    _wait_for_text(instance.log, b"first\n")
    after_first = time.time()
    time.sleep(0.05)
    instance.write(b"second\n")
    _wait_for_text(instance.log, b"second\n")
    after_second = time.time()

    shown = instance.cli("logs", "--timestamps", "-n", "2")

    [first, second] = shown.stdout.splitlines()
    stamps = []
    for line, text in ((first, "first"), (second, "second")):
        prefix, _, rest = line.partition(" | ")
        stamp, _, written = rest.partition(" ")
        assert (prefix, written) == ("talker-1", text)
        stamps.append(datetime.fromisoformat(stamp).timestamp())
    # Stamps are cut to the millisecond.
    assert before - 0.001 <= stamps[0] <= after_first <= stamps[1] + 0.001 <= after_second + 0.001
