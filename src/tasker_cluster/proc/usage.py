"""CPU and memory of whole instances: every process of an instance's group, session and descendants, summed.

A CPU percentage needs two readings of CPU time over an interval. `sample_usage` takes one reading of every
instance at once (one pass over /proc, see `ProcessTable`; then each member's stat line and statm); `cpu_percent`
compares two readings of the same instance, or, with no earlier reading, the CPU time since the instance started
with its uptime, as `ps` does. Plain reads of /proc, as for liveness: status-quick pays no psutil.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import NamedTuple

from tasker_cluster.proc.processes import ProcessTable, descendants, read_stat, wall_clock_start

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class Leader(NamedTuple):
    """Whose processes make an instance: those of the group and session `pid` leads, and its descendants, created at
    or after clock tick `start_ticks`; `started_at` is its start in seconds since the epoch."""

    pid: int
    start_ticks: int
    started_at: float


class Usage(NamedTuple):
    """One reading of an instance: CPU seconds (user + system) per member pid, and the group's resident memory.

    `rss_bytes` is each member's private resident memory (RSS less its shared pages) plus the largest member's
    shared pages: memory the members share (PostgreSQL's shared buffers, libraries) counted once, where summing
    RSS would count it once per process (a local PostgreSQL with 42 connections: 1.3 GiB summed, ~300 MiB so).
    Pages a fork shares copy-on-write still count in each process. `at` is time.monotonic().
    """

    leader: Leader
    cpu_s: Mapping[int, float]
    rss_bytes: int
    at: float

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())


class CpuPercent(NamedTuple):
    """CPU time as a percentage of one core's time (200 is two cores busy) over `window_s` seconds."""

    percent: float
    window_s: float


def leader_of(pid: int) -> Leader | None:
    """The Leader of a running process found by its pid alone (one not started from a PID record)."""
    stat = read_stat(pid)
    if stat is None or not stat.running:
        return None
    return Leader(pid, stat.start_ticks, wall_clock_start(stat.start_ticks))


def sample_usage(leaders: Mapping[str, Leader], table: ProcessTable | None = None) -> dict[str, Usage]:
    """One reading of each named instance that still has a process; the others are left out. A table already
    read would give CPU times of its own moment: a reading wants a fresh one."""
    if not leaders:
        return {}
    table = table or ProcessTable()
    readings = {}
    for name, leader in leaders.items():
        cpu: dict[int, float] = {}
        private = shared = 0
        for pid in sorted(set(table.in_group_or_session(leader.pid)) | descendants(leader.pid)):
            stat = table.stat(pid)
            memory = _resident_and_shared(pid) if stat is not None else None
            if stat is None or memory is None or not stat.running or stat.start_ticks < leader.start_ticks:
                continue
            cpu[pid] = stat.cpu_ticks / _TICKS_PER_S
            private += memory[0] - memory[1]
            shared = max(shared, memory[1])
        if cpu:
            readings[name] = Usage(leader, cpu, (private + shared) * _PAGE_BYTES, time.monotonic())
    return readings


def cpu_percent(after: Usage, before: Usage | None = None) -> CpuPercent:
    """CPU % between `before` and `after` (readings of the same leader), else since the leader started.

    A member that appeared in between counts with all its CPU time; one that exited in between is lost (its time
    went to its parent only once reaped, and not to any member's own time).
    """
    if before is not None and before.leader == after.leader and after.at > before.at:
        used = sum(seconds - before.cpu_s.get(pid, 0.0) for pid, seconds in after.cpu_s.items())
        window = after.at - before.at
    else:
        used = after.total_cpu_s
        window = time.time() - after.leader.started_at
    if window <= 0:
        return CpuPercent(0.0, 0.0)
    return CpuPercent(max(used, 0.0) / window * 100, window)


def _resident_and_shared(pid: int) -> tuple[int, int] | None:
    """Resident and shared pages (/proc/PID/statm); None when the process is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            fields = file.read().split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), int(fields[2])
