"""How `cluster test` runs pytest and learns each test's outcome as it happens, for its live progress line.

`run_pytest` hands pytest the write end of a pipe (its number in TASKER_TEST_PROGRESS_FD); the plugin's
`ProgressReporter`, in the pytest process that reports results (xdist's controller, not its workers), writes one
line per outcome to it: `total N` once collected, then `passed`, `failed`, `skipped` or `error` per test. A reader
that goes away costs pytest nothing: it stops reporting.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

PROGRESS_FD_ENV = "TASKER_TEST_PROGRESS_FD"
OUTCOMES = ("passed", "failed", "skipped", "error")


class ProgressReporter:
    """pytest hooks writing each outcome to the progress pipe (see the module's docstring)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._total_sent = False

    @classmethod
    def from_environment(cls, config: pytest.Config) -> ProgressReporter | None:
        """The reporter of the pytest process that reports results, when `cluster test` asked for one. The
        variable is removed, so that nothing this pytest starts (xdist workers, tested programs) writes to a
        descriptor number that means something else there."""
        text = os.environ.pop(PROGRESS_FD_ENV, "")
        if not text.isdigit() or hasattr(config, "workerinput"):
            return None
        fd = int(text)
        try:
            os.set_inheritable(fd, False)
        except OSError:
            return None
        return cls(fd)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # xdist's controller collects nothing itself: its workers' collections say how many there are.
        if not session.config.pluginmanager.has_plugin("dsession"):
            self._write(f"total {len(session.items)}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: Sequence[str]) -> None:
        # Every worker collects the same tests; the first to finish says how many.
        if not self._total_sent:
            self._total_sent = True
            self._write(f"total {len(ids)}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self._write("skipped" if report.skipped else report.outcome)
        elif report.failed:
            self._write("error")
        elif report.when == "setup" and report.skipped:
            self._write("skipped")

    def _write(self, line: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, f"{line}\n".encode())
        except OSError:
            self._fd = None


def run_pytest(
    argv: Sequence[str],
    cwd: Path,
    *,
    on_output: Callable[[str], None] | None = None,
    on_outcome: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> int:
    """Run pytest (`argv`) in `cwd` with stdin closed; its exit code, shell style (killed by signal N: 128 + N).

    Its output goes straight to this process's stdout and stderr, or, with `on_output`, line by line to it. With
    `on_outcome`, each test's outcome is reported as it happens, and `on_total` gets the number collected.

    A Ctrl-C is passed on to pytest and waited out, never cut short: pytest runs in a process group of its own, so
    the terminal's Ctrl-C reaches only us, and each one is passed on; the first lets pytest stop and tear down what
    its fixtures started (clusters, compose deployments), a second tells it to hurry. `subprocess.run` would kill
    pytest 0.25 s after a Ctrl-C, leaving all of that running.
    """
    reader, writer = os.pipe() if on_outcome is not None else (None, None)
    env = dict(os.environ)
    if writer is not None:
        env[PROGRESS_FD_ENV] = str(writer)
    if on_output is not None:
        env["PYTHONUNBUFFERED"] = "1"
    piped = subprocess.PIPE if on_output is not None else None
    # stdin closed: CI runs with none, and a test must never wait for a keyboard.
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=piped,
        stderr=subprocess.STDOUT if piped else None,
        pass_fds=(writer,) if writer is not None else (),
        process_group=0,
    )
    listener = None
    if writer is not None and reader is not None:
        os.close(writer)
        listener = threading.Thread(target=_listen, args=(reader, on_outcome, on_total), daemon=True)
        listener.start()
    try:
        code = _finish(process, on_output)
    finally:
        if listener is not None:
            listener.join(timeout=5)
    return 128 - code if code < 0 else code


def _finish(process: subprocess.Popen[bytes], on_output: Callable[[str], None] | None) -> int:
    """pytest's exit code once it exits, its output passed on meanwhile, each Ctrl-C passed on to it."""
    while True:
        try:
            if process.stdout is not None and on_output is not None:
                for line in iter(process.stdout.readline, b""):
                    on_output(line.decode(errors="replace"))
            return process.wait()
        except KeyboardInterrupt:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)


def _listen(fd: int, on_outcome: Callable[[str], None] | None, on_total: Callable[[int], None] | None) -> None:
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line.startswith("total ") and line[6:].isdigit():
                if on_total is not None:
                    on_total(int(line[6:]))
            elif line in OUTCOMES and on_outcome is not None:
                on_outcome(line)
