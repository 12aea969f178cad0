"""Wall and CPU time of commands, run interleaved; hyperfine, when installed, as an independent cross-check.

CPU time (user + system of the child, from wait4) is reported beside wall time: other engineers' test runs share
these 2 cores, which inflates wall time far more than the CPU a command itself burns.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.fleet import clean_env
from benchlib.paths import hyperfine


@dataclass(frozen=True)
class Contender:
    label: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float


@dataclass
class Samples:
    """Wall and CPU seconds per contender label, in the order the runs happened."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, label: str, run: Run) -> None:
        self.wall.setdefault(label, []).append(run.wall)
        self.cpu.setdefault(label, []).append(run.cpu)


def run_once(argv: Sequence[str], *, ok_codes: Sequence[int] = (0,), timeout: float = 120) -> Run:
    """Wall time from fork to reap, and the child's CPU time (its own children's too, once reaped)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env()
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode not in ok_codes:
        raise RuntimeError(f"{shlex.join(argv)} exited {process.returncode}: {stderr[-2000:]}")
    if wall > timeout:
        raise RuntimeError(f"{shlex.join(argv)} took {wall:.1f} s")
    return Run(wall, usage.ru_utime + usage.ru_stime)


def interleaved(contenders: Sequence[Contender], runs: int, warmup: int = 1) -> Samples:
    """`runs` rounds; each round runs every contender once, the order rotated so none always goes first."""
    for contender in contenders:
        for _ in range(warmup):
            run_once(contender.argv, ok_codes=contender.ok_codes)
    samples = Samples()
    for index in range(runs):
        shift = index % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            samples.add(contender.label, run_once(contender.argv, ok_codes=contender.ok_codes))
    return samples


def hyperfine_medians(contenders: Sequence[Contender], runs: int) -> dict[str, float] | None:
    """Median wall seconds per contender by hyperfine (no shell), or None when hyperfine is not installed."""
    tool = hyperfine()
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-hyperfine-") as folder:
        export = Path(folder) / "result.json"
        argv = [tool, "-N", "--style", "none", "--warmup", "1", "--runs", str(runs), "--export-json", str(export)]
        argv += [shlex.join(contender.argv) for contender in contenders]
        completed = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"hyperfine failed ({completed.returncode}): {completed.stderr[-2000:]}")
        results = json.loads(export.read_text())["results"]
    return {contender.label: result["median"] for contender, result in zip(contenders, results, strict=True)}
