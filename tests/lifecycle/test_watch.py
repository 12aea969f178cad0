"""`cluster status --watch`: one table per interval when piped, a live table on a terminal with what changed
highlighted; Ctrl-C ends it with exit 0. The real CLI against real instances."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from support.sandbox import CLUSTER, STEERING, Sandbox
from tasker_cluster.ui.status import COLUMNS, DROPPED_FIRST


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in STEERING and key != "FORCE_COLOR"}


def _kill(sandbox: Sandbox, name: str) -> None:
    process = psutil.Process(sandbox.record(name).pid)
    process.kill()
    psutil.wait_procs([process], timeout=10)


def _read_until(fd: int, wanted: bytes, seen: bytearray, deadline: float) -> None:
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} in {bytes(seen)[-2000:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            assert chunk, f"output ended before {wanted!r}: {bytes(seen)[-2000:]!r}"
            seen += chunk


def test_piped_watch_prints_a_table_per_interval_shows_a_crash_and_exits_0_on_ctrl_c(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    watch = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), "status", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert watch.stdout is not None
    seen = bytearray()
    try:
        deadline = time.monotonic() + 30
        _read_until(watch.stdout.fileno(), b"worker-1         healthy", seen, deadline)
        tables = seen.count(b"INSTANCE")
        _kill(sandbox, "worker-1")
        _read_until(watch.stdout.fileno(), b"worker-1         dead", seen, deadline)
        watch.send_signal(signal.SIGINT)
        code = watch.wait(timeout=10)
    finally:
        if watch.poll() is None:
            watch.kill()
    text = bytes(seen).decode()
    assert code == 0, watch.stderr.read() if watch.stderr else ""
    assert text.count("INSTANCE") > tables >= 1
    assert "\x1b[" not in text
    assert "not healthy" in text.splitlines()[-1] or "not healthy" in text


@contextmanager
def _watch_on_a_terminal(sandbox: Sandbox, columns: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`status --watch` with a pseudo-terminal of `columns` as its terminal; yields it and the terminal's other end,
    and kills it if the test left it running."""
    controller, terminal = pty.openpty()
    watch = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), "status", "--watch", "--interval", "0.2"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**_env(), "TERM": "xterm-256color", "COLUMNS": str(columns)},
    )
    os.close(terminal)
    try:
        yield watch, controller
    finally:
        if watch.poll() is None:
            watch.kill()
        os.close(controller)


def test_watch_on_a_terminal_redraws_in_place_and_highlights_what_changed(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    seen = bytearray()
    with _watch_on_a_terminal(sandbox, columns=120) as (watch, controller):
        deadline = time.monotonic() + 30
        _read_until(controller, b"healthy", seen, deadline)
        _kill(sandbox, "worker-1")
        _read_until(controller, b"dead", seen, deadline)
        before_change = bytes(seen[: seen.index(b"dead")])
        # The refresh that first shows the crash marks the changed cells (reverse video).
        _read_until(controller, b"\x1b[7m", seen, deadline)
        watch.send_signal(signal.SIGINT)
        code = watch.wait(timeout=10)
    assert code == 0
    # Redrawn in place: the cursor moves back up over the previous table instead of printing a new one below.
    assert b"\x1b[2K" in bytes(seen) or b"\x1b[1A" in bytes(seen)
    assert b"\x1b[7m" not in before_change.split(b"healthy")[0]


def test_watch_on_a_40_column_terminal_drops_columns_instead_of_squeezing_health(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    seen = bytearray()
    with _watch_on_a_terminal(sandbox, columns=40) as (watch, controller):
        _read_until(controller, b"200 ", seen, time.monotonic() + 30)
        watch.send_signal(signal.SIGINT)
        code = watch.wait(timeout=10)
    assert code == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", bytes(seen).decode())
    header = next(line for line in text.splitlines() if line.startswith("INSTANCE")).split()
    # Which columns fit beside a whole HEALTH depends on the pids' and latencies' digits (a fresh machine's pids are
    # short enough for PID to stay): what is fixed is the order columns go in, and that none is squeezed.
    dropped = [column for column in COLUMNS if column not in header]
    assert header[:2] == ["INSTANCE", "STATUS"] and header[-1] == "HEALTH"
    assert set(dropped) == set(DROPPED_FIRST[: len(dropped)]), "dropped out of priority order"
    assert {"CPU", "RSS"} <= set(dropped)
    assert "…" not in text


def test_a_piped_watch_ends_with_exit_0_when_its_reader_goes_away(sandbox: Sandbox) -> None:
    """`cluster status --watch | head` must end like `tail -f | head`, not refresh into /dev/null for ever."""
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    watch = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), "status", "--watch", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert watch.stdout is not None
    try:
        _read_until(watch.stdout.fileno(), b"worker-1", bytearray(), time.monotonic() + 30)
        watch.stdout.close()
        code = watch.wait(timeout=15)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 0, watch.stderr.read() if watch.stderr else ""


def test_watch_measures_cpu_over_each_refresh_interval(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    watch = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), "status", "--watch", "--json", "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    assert watch.stdout is not None
    try:
        documents = [json.loads(watch.stdout.readline()) for _ in range(3)]
        watch.send_signal(signal.SIGINT)
        code = watch.wait(timeout=10)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 0
    windows = [document["instances"][0]["cpu_window_s"] for document in documents]
    # The first refresh samples its own window; each later one measures from the reading of the refresh before it.
    assert windows[0] >= 0.2 and windows[1] > 0 and windows[2] >= 0.4, windows
    assert all(document["warnings"] == [] and document["healthy"] for document in documents)
