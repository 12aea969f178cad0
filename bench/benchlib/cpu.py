"""Where the CPU goes during a load run: each role of the reference cluster, PostgreSQL, and the load generator.

A snapshot maps every process of a group to its CPU seconds; PostgreSQL's reaped backends count through the
postmaster's children times, so a connection that came and went between two snapshots is not lost.
"""

from __future__ import annotations

from collections import defaultdict

import psutil

from tasker_cluster.proc.records import read_records
from tasker_cluster.project import Project

Snapshot = dict[str, dict[int, float]]
# Every core's busy time, ours and everybody else's: other engineers share this machine.
MACHINE = "whole machine"


def groups(project: Project, database_port: int) -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = defaultdict(list)
    for record in read_records(project).valid.values():
        leader = psutil.Process(record.pid)
        found[record.role] += [leader, *leader.children(recursive=True)]
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == database_port and connection.pid:
            postmaster = psutil.Process(connection.pid)
            found["postgres"] = [postmaster, *postmaster.children(recursive=True)]
            break
    return dict(found)


def snapshot(project: Project, database_port: int) -> Snapshot:
    """CPU seconds per process of each group, and under MACHINE the busy seconds of all cores together."""
    taken: Snapshot = {}
    for group, processes in groups(project, database_port).items():
        taken[group] = {process.pid: _seconds(process, reaped=group == "postgres") for process in processes}
    times = psutil.cpu_times()
    taken[MACHINE] = {0: sum(times) - times.idle - getattr(times, "iowait", 0.0)}
    return taken


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds each group burnt between two snapshots."""
    return {group: _delta(before.get(group, {}), pids) for group, pids in after.items()}


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _seconds(process: psutil.Process, *, reaped: bool) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    own = times.user + times.system
    return own + times.children_user + times.children_system if reaped else own
