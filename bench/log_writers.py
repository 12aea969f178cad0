"""Question 8: what should rotate an instance's log while it runs? The project's log writer vs Debian's rotating
writers (svlogd, multilog, s6-log, rotatelogs) and copy-and-truncate with no writer in between.

Every contender gets the same output: numbered 100-byte lines, one write each, as fast as a program writes them,
rotated at 1 MiB with 3 rotated files kept; then a 200 KiB line between short ones. Measured: wall time, the
writer's CPU time and peak RSS (wait4), whether every kept line is whole and none is missing between the oldest
kept and the last, what the files are called, whether a long line stays whole, and whether a second writer can
start on the same log while the first still runs (an instance restarted while a child of the old one still holds
the old writer's pipe). Debian's tools are looked up on PATH, or in --tools DIR (e.g. `apt-get download` then
`dpkg -x`, with their libraries on LD_LIBRARY_PATH); a missing one is listed as not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from benchlib.report import Result, publish
from tasker_cluster.config.model import LogRotation
from tasker_cluster.proc.spawn import LogWriterProcess

LIMIT = 1024 * 1024
KEEP = 3
WIDTH = 100
LONG = 200 * 1024
# One write per line, as a logging program does; the generator is the same for every contender.
GENERATOR = """
import os, sys
lines, width, long = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for number in range(1, lines + 1):
    if long and number == lines // 2:
        os.write(1, b"L" * long + b"\\n")
    os.write(1, b"%08d " % number + b"x" * (width - 10) + b"\\n")
"""
_NUMBERED = re.compile(rb"([0-9]{8}) x{%d}" % (WIDTH - 10))


class Running(NamedTuple):
    """A writer at work on `target`: `stdin` is the write end of what it reads (the caller closes it); `finish()`
    waits until it has written everything and exited, and returns its CPU seconds and exit code."""

    pid: int
    stdin: int
    finish: Callable[[], tuple[float, int]]


@dataclass
class Contender:
    """A writer: `start` sets it to read into `target` (a file or a folder); `files` lists what it kept, oldest
    first. No `start`: no writer in between (copy-and-truncate)."""

    label: str
    start: Callable[[Path], Running] | None
    files: Callable[[Path], list[Path]]
    timestamps: str
    missing: str | None = None


def program(argv: Callable[[Path], list[str]]) -> Callable[[Path], Running]:
    """A writer program that reads its standard input."""

    def start(target: Path) -> Running:
        read_end, write_end = os.pipe()
        writer = subprocess.Popen(argv(target), stdin=read_end, stderr=subprocess.DEVNULL)
        os.close(read_end)

        def finish() -> tuple[float, int]:
            _, status, usage = os.wait4(writer.pid, 0)
            writer.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime, writer.returncode

        return Running(writer.pid, write_end, finish)

    return start


def ours(target: Path) -> Running:
    """The project's log writer, started and fed as `cluster start-all` does (`proc/spawn.py`)."""
    process = LogWriterProcess()
    read_end, write_end = os.pipe()
    written = process.attach(read_end, target, LogRotation(LIMIT, KEEP))
    os.close(read_end)
    pid = process.pid
    assert pid is not None

    def finish() -> tuple[float, int]:
        written(600)
        process.close()
        _, status, usage = os.wait4(pid, 0)
        return usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)

    return Running(pid, write_end, finish)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 MiB instead of 32 MiB")
    parser.add_argument("--tools", type=Path, help="a folder with svlogd, multilog, s6-log, rotatelogs")
    args = parser.parse_args()
    result = Result("log_writers", (__doc__ or "").splitlines()[0], args.quick)
    lines = (8 if args.quick else 32) * 1024 * 1024 // WIDTH
    speed = result.section(
        f"{lines * WIDTH / 2**20:.0f} MiB of {WIDTH}-byte lines, rotated at 1 MiB, 3 kept",
        [
            "writer",
            "wall s",
            "writer CPU s",
            "writer RSS MiB (idle)",
            "largest file MiB",
            "kept lines",
            "missing inside",
            "files ending mid-line",
        ],
    )
    traits = result.section(
        "what each one does",
        ["writer", "files", "200 KiB line", "second writer on the same log", "line times"],
    )
    for contender in contenders(args.tools):
        if contender.missing:
            speed.rows.append([contender.label, "not installed", "", "", "", "", "", ""])
            traits.rows.append([contender.label, contender.missing, "", "", contender.timestamps])
            continue
        with tempfile.TemporaryDirectory(prefix="bench-logs-") as folder:
            measured = run(contender, Path(folder) / "fast", lines, 0)
            measured.insert(2, idle_rss(contender, Path(folder) / "idle"))
            speed.rows.append([contender.label, *measured])
            result.raw[contender.label] = measured
            names = ", ".join(path.name for path in contender.files(Path(folder) / "fast"))
            long_whole = run_long(contender, Path(folder) / "long")
            second = second_writer(contender, Path(folder) / "second")
            traits.rows.append([contender.label, names, long_whole, second, contender.timestamps])
    publish(result)


def contenders(tools: Path | None) -> list[Contender]:
    def tool(name: str) -> str | None:
        if tools is not None and (tools / name).exists():
            return str(tools / name)
        return shutil.which(name)

    def daemontools_files(folder: Path) -> list[Path]:
        return [*sorted(folder.glob("@*")), folder / "current"]

    def ours_files(target: Path) -> list[Path]:
        rotated = [target.with_name(f"{target.name}.{index}") for index in range(KEEP, 0, -1)]
        return [path for path in rotated if path.exists()] + [target]

    def rotatelogs_files(target: Path) -> list[Path]:
        return sorted(target.parent.glob(target.name + "*"), key=lambda path: path.stat().st_mtime_ns)

    svlogd, multilog, s6_log, rotatelogs = (tool(name) for name in ("svlogd", "multilog", "s6-log", "rotatelogs"))
    return [
        Contender(
            "log writer (proc/log_writer.py)",
            ours,
            ours_files,
            "exact, per ms, beside the file (<log>.times); file verbatim",
        ),
        Contender(
            "svlogd (runit)",
            program(lambda target: [str(svlogd), "-b", "65536", str(target)]),
            daemontools_files,
            "-tt/-ttt: UTC prefix written into each line",
            None if svlogd else "runit",
        ),
        Contender(
            "multilog (daemontools)",
            program(lambda target: [str(multilog), f"s{LIMIT}", f"n{KEEP + 1}", str(target)]),
            daemontools_files,
            "t: TAI64N prefix written into each line",
            None if multilog else "daemontools",
        ),
        Contender(
            "s6-log (s6)",
            program(lambda target: [str(s6_log), f"n{KEEP + 1}", f"s{LIMIT}", str(target)]),
            daemontools_files,
            "t/T: prefix written into each line",
            None if s6_log else "s6",
        ),
        Contender(
            "rotatelogs -n (apache2-utils)",
            program(lambda target: [str(rotatelogs), "-n", str(KEEP + 1), str(target), f"{LIMIT // 1024}K"]),
            rotatelogs_files,
            "none",
            None if rotatelogs else "apache2-utils",
        ),
        Contender("copy-and-truncate every 100 ms", None, ours_files, "file mtime only"),
    ]


def run(contender: Contender, target: Path, lines: int, long: int) -> list[str]:
    """Feed the generator's output through the contender; wall time, the writer's CPU time, what was kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if "svlogd" in contender.label:
        target.mkdir()
        (target / "config").write_text(f"s{LIMIT}\nn{KEEP + 1}\n")
    started = time.perf_counter()
    if contender.start is None:
        cpu = copy_and_truncate(target, lines, long)
    else:
        cpu = piped(contender.start(target), lines, long)
    wall = time.perf_counter() - started
    files = [path for path in contender.files(target) if path.exists()]
    kept, missing = check(files)
    mid_line = sum(1 for path in files[:-1] if not path.read_bytes().endswith(b"\n"))
    largest = max(path.stat().st_size for path in files) / 2**20
    return [f"{wall:.2f}", f"{cpu:.2f}", f"{largest:.2f}", str(kept), str(missing), str(mid_line)]


def idle_rss(contender: Contender, target: Path) -> str:
    """The writer's resident memory while it waits for output (wait4's peak would count the forking parent's)."""
    if contender.start is None:
        return "n/a (no writer)"
    if "svlogd" in contender.label:
        target.mkdir()
    running = contender.start(target)
    os.write(running.stdin, b"one line\n")
    time.sleep(0.5)
    status = Path(f"/proc/{running.pid}/status").read_text()
    os.close(running.stdin)
    running.finish()
    kilobytes = int(re.search(r"VmRSS:\s+([0-9]+) kB", status)[1])  # type: ignore[index]
    return f"{kilobytes / 1024:.1f}"


def piped(running: Running, lines: int, long: int) -> float:
    generator = subprocess.Popen(
        [sys.executable, "-c", GENERATOR, str(lines), str(WIDTH), str(long)], stdout=running.stdin
    )
    os.close(running.stdin)
    generator.wait()
    return running.finish()[0]


def copy_and_truncate(target: Path, lines: int, long: int) -> float:
    """logrotate's copytruncate on a 100 ms schedule: no process between the program and its file."""
    stop = threading.Event()

    def rotate() -> None:
        while not stop.wait(0.1):
            if target.exists() and target.stat().st_size >= LIMIT:
                for index in range(KEEP - 1, 0, -1):
                    older = target.with_name(f"{target.name}.{index}")
                    if older.exists():
                        os.replace(older, target.with_name(f"{target.name}.{index + 1}"))
                shutil.copyfile(target, target.with_name(f"{target.name}.1"))
                os.truncate(target, 0)

    rotator = threading.Thread(target=rotate)
    rotator.start()
    with target.open("ab") as file:
        subprocess.run([sys.executable, "-c", GENERATOR, str(lines), str(WIDTH), str(long)], stdout=file, check=True)
    stop.set()
    rotator.join()
    return 0.0


def check(files: list[Path]) -> tuple[int, int]:
    """Kept numbered lines (whole, once the files are put together) and lines missing between the oldest kept
    and the last."""
    data = b"".join(path.read_bytes() for path in files)
    numbers = [int(matched[1]) for line in data.split(b"\n") if (matched := _NUMBERED.fullmatch(line))]
    if not numbers:
        return 0, 0
    return len(numbers), (numbers[-1] - numbers[0] + 1) - len(set(numbers))


def run_long(contender: Contender, target: Path) -> str:
    run(contender, target, 600, LONG)
    files = [path for path in contender.files(target) if path.exists()]
    lengths = [len(line) for path in files for line in path.read_bytes().split(b"\n")]
    longest = max((length for length in lengths if length > WIDTH * 2), default=0)
    return "whole" if longest >= LONG else f"cut: longest piece {longest} bytes"


def second_writer(contender: Contender, target: Path) -> str:
    """A second writer on the same log while the first still runs: does its line arrive?"""
    if contender.start is None:
        return "n/a (each program appends)"
    target.parent.mkdir(parents=True, exist_ok=True)
    if "svlogd" in contender.label:
        target.mkdir()
    first = contender.start(target)
    time.sleep(0.3)
    second = contender.start(target)
    with contextlib.suppress(BrokenPipeError):
        os.write(second.stdin, b"from the second writer\n")
    os.close(second.stdin)
    _, code = second.finish()
    os.close(first.stdin)
    first.finish()
    arrived = any(b"from the second writer" in path.read_bytes() for path in contender.files(target) if path.exists())
    return "its lines arrive" if arrived else f"exits {code}: its instance's output has no reader"


if __name__ == "__main__":
    main()
