"""CPU and memory of whole instances: every process of an instance's group, session and descendants, summed.

A CPU percentage needs two readings of CPU time over an interval. `sample_usage` takes one reading of every
instance at once (one pass over /proc, see `ProcessTable`); `cpu_percent` compares two readings of the same
instance, or, with no earlier reading, the CPU time since the instance started with its uptime, as `ps` does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

import psutil

from tasker_cluster.proc.groups import ProcessTable


class Leader(NamedTuple):
    """An instance's leader process: its pid and create time (seconds since the epoch)."""

    pid: int
    create_time: float


class Usage(NamedTuple):
    """One reading of an instance: CPU seconds (user + system) per member pid, and the group's resident memory.

    `rss_bytes` is each member's private resident memory (RSS less its shared pages) plus the largest member's
    shared pages: memory the members share (PostgreSQL's shared buffers, libraries) counted once, where summing
    RSS would count it once per process (a local PostgreSQL with 40 connections: 1.3 GiB summed, against what
    `free` sees go). Pages a fork shares copy-on-write still count in each process. `at` is time.monotonic().
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
    try:
        return Leader(pid, psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return None


def sample_usage(leaders: Mapping[str, Leader]) -> dict[str, Usage]:
    """One reading of each named instance whose leader or session still has a process; the others are left out."""
    if not leaders:
        return {}
    table = ProcessTable.scan()
    readings = {}
    for name, leader in leaders.items():
        cpu: dict[int, float] = {}
        private = shared = 0
        for process in table.members(leader.pid, since=leader.create_time):
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cpu[process.pid] = times.user + times.system
            private += memory.rss - memory.shared
            shared = max(shared, memory.shared)
        if cpu:
            readings[name] = Usage(leader, cpu, private + shared, time.monotonic())
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
        window = time.time() - after.leader.create_time
    if window <= 0:
        return CpuPercent(0.0, 0.0)
    return CpuPercent(max(used, 0.0) / window * 100, window)
