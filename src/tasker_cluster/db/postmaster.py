"""Reading `postmaster.pid`: is the server of a data folder running, and where? No psycopg, no network.

`cluster status-quick` and start-all's closing table rely on this module: whether the server runs is read from
/proc like an instance's liveness (`proc/processes.py`); psutil is imported only to search for orphaned backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tasker_cluster.proc.processes import read_stat

if TYPE_CHECKING:
    import psutil

PID_FILE = "postmaster.pid"
_SERVER_NAMES = {"postgres", "postmaster"}


class PostmasterRecord(NamedTuple):
    """What postmaster.pid (PostgreSQL >= 10) says: lines 1, 3, 4 and 8 of it."""

    pid: int
    started_at: float
    port: int
    status: str


def read_pid_file(data_dir: Path) -> PostmasterRecord | None:
    try:
        lines = (data_dir / PID_FILE).read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    try:
        return PostmasterRecord(
            pid=int(lines[0]),
            started_at=float(lines[2]),
            port=int(lines[3]),
            status=lines[7].strip() if len(lines) > 7 else "",
        )
    except (IndexError, ValueError):
        # A half-written file while the server starts: treat it as not yet running.
        return None


def is_server_process(pid: int) -> bool:
    """The pid belongs to a live PostgreSQL postmaster (after a reboot the stale pid may be any other process; after
    a kill -9 the postmaster lingers as a zombie until its adoptive parent reaps it)."""
    stat = read_stat(pid)
    return stat is not None and stat.name in _SERVER_NAMES and stat.running


def running_postmaster(data_dir: Path) -> PostmasterRecord | None:
    """The record of this data folder's live postmaster, or None when it is not running."""
    record = read_pid_file(data_dir)
    if record is None or not is_server_process(record.pid):
        return None
    return record


def processes_in(data_dir: Path) -> list[psutil.Process]:
    """Live PostgreSQL processes working in this data folder: the postmaster and every backend chdir into it, so
    this finds orphans of a killed postmaster too, which no pid file names."""
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cwd", "status"]):
        info = process.info
        if info["name"] in _SERVER_NAMES and info["status"] != psutil.STATUS_ZOMBIE and info["cwd"] == str(data_dir):
            found.append(process)
    return found
