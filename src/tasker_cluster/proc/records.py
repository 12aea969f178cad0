"""PID records in `.pids/<name>.pid`, and the identity check that keeps us from signalling strangers.

A bare PID is not enough: after a reboot or PID reuse it names someone else's process. A record also holds the
process's create time and command line, and a process is ours only when all three still match.
"""

from __future__ import annotations

import json
import os
from enum import Enum
from typing import NamedTuple

from tasker_cluster.project import PID_SUFFIX, Project

# psutil derives create_time from clock ticks since boot, so it is exact to 1/100 s and equal on every read.
_CREATE_TIME_TOLERANCE = 0.01


class InstanceRecord(NamedTuple):
    """What `.pids/<name>.pid` holds: enough to find, verify, probe and stop an instance without the topology."""

    name: str
    pid: int
    create_time: float
    cmdline: list[str]
    port: int
    url: str
    service: str
    role: str
    log: str
    started_at: str
    health_path: str = "/health"
    ready_path: str = "/health/ready"
    startup_timeout: float = 30.0
    stop_grace: float = 10.0

    @property
    def health_url(self) -> str:
        return self.url + self.health_path

    @property
    def ready_url(self) -> str:
        return self.url + self.ready_path


_FIELDS = frozenset(InstanceRecord._fields)


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    REUSED = "reused"


class Records(NamedTuple):
    """The readable records, and the names of PID files that hold no valid record (e.g. a bare PID)."""

    valid: dict[str, InstanceRecord]
    unreadable: list[str]


def write_record(project: Project, record: InstanceRecord) -> None:
    """Write atomically, so a reader never sees half a record."""
    project.pids_dir.mkdir(parents=True, exist_ok=True)
    target = project.pid_file(record.name)
    # Named by our pid rather than by tempfile, whose import would cost more than the write: no other process
    # writes this name.
    temp = target.with_name(f".{record.name}.{os.getpid()}.tmp")
    with open(temp, "w") as file:
        json.dump(record._asdict(), file, indent=2)
    os.replace(temp, target)


def read_record(project: Project, name: str) -> InstanceRecord | None:
    """The record, or None when there is no PID file; ValueError when the file holds no valid record."""
    try:
        text = project.pid_file(name).read_text()
    except FileNotFoundError:
        return None
    return _parse(text)


def read_records(project: Project) -> Records:
    valid: dict[str, InstanceRecord] = {}
    unreadable: list[str] = []
    try:
        paths = sorted(project.pids_dir.glob(f"*{PID_SUFFIX}"))
    except FileNotFoundError:
        paths = []
    for path in paths:
        name = path.name.removesuffix(PID_SUFFIX)
        try:
            valid[name] = _parse(path.read_text())
        except FileNotFoundError:
            continue
        except ValueError:
            unreadable.append(name)
    return Records(valid, unreadable)


def remove_record(project: Project, name: str) -> None:
    project.pid_file(name).unlink(missing_ok=True)


def liveness(record: InstanceRecord) -> Liveness:
    """ALIVE only when the PID runs, is not a zombie, and has the recorded create time and command line."""
    # Imported only when there is a record to check: a first `start-all` spawns before it needs psutil.
    import psutil

    try:
        process = psutil.Process(record.pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return Liveness.DEAD
            same = (
                abs(process.create_time() - record.create_time) < _CREATE_TIME_TOLERANCE
                and process.cmdline() == record.cmdline
            )
    except psutil.NoSuchProcess:
        return Liveness.DEAD
    except psutil.AccessDenied:
        return Liveness.REUSED
    return Liveness.ALIVE if same else Liveness.REUSED


def _parse(text: str) -> InstanceRecord:
    try:
        data = json.loads(text)
        # Keys this version does not know are ignored, so a newer CLI's records stay readable.
        record = InstanceRecord(**{key: value for key, value in data.items() if key in _FIELDS})
    except (json.JSONDecodeError, TypeError, AttributeError) as error:
        raise ValueError(f"not a PID record: {error}") from None
    if not isinstance(record.pid, int) or not isinstance(record.create_time, int | float):
        raise ValueError("not a PID record: pid or create_time has the wrong type")
    return record
