"""PID records in `.pids/<name>.pid`, and the identity check that keeps us from signalling strangers.

A bare PID is not enough: after a reboot or PID reuse it names someone else's process. A record also holds what
cannot change while the process lives: the clock tick since boot at which it was created, and the boot's id. Its
command line changes with an `exec` or a new process title, so it is kept for display only.

The session is the instance: each instance is spawned as the leader of a session of its own, and it counts as
running while any process of that session runs, also after the leader exited (a server that backgrounds itself).
Those processes must carry the instance's start token (`proc/processes.py`): Linux never gives a session's number
to another process while one of its members lives, but once the session emptied, a stranger could start a new one
under the same number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple

from tasker_cluster.proc.processes import (
    InstanceMarks,
    ProcessStat,
    ProcessTable,
    boot_id,
    read_stat,
    wall_clock_start,
)
from tasker_cluster.project import PID_SUFFIX, Project

# psutil derives create_time from clock ticks since boot, so it is exact to 1/100 s and equal on every read.
_CREATE_TIME_TOLERANCE = 0.01


class InstanceRecord(NamedTuple):
    """What `.pids/<name>.pid` holds: enough to find, verify, probe and stop an instance without the topology.

    Identity: `pid`, `start_ticks` (clock ticks since boot at its creation) and `boot_id`; `session` is the session
    it leads, `token` the marker its environment carries. `cmdline` is the command it was started with and
    `create_time` its start in seconds since the epoch, both for display. A record written before these fields
    existed has no `start_ticks`/`boot_id`: its `create_time` then identifies the process.
    """

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
    start_ticks: int | None = None
    boot_id: str = ""
    session: int = 0
    token: str = ""
    # How it is probed (config/model.ProbeKind); a record from before probe kinds existed was probed over HTTP.
    probe: str = "http"
    probe_command: tuple[str, ...] = ()
    # Seconds one probe may take; None: its kind's default. Like startup_timeout, what it was started with.
    probe_timeout: float | None = None

    @property
    def health_url(self) -> str:
        return self.url + self.health_path

    @property
    def ready_url(self) -> str:
        return self.url + self.ready_path


_FIELDS = frozenset(InstanceRecord._fields)


class Liveness(Enum):
    """ALIVE: the leader runs. SESSION: the leader exited, other processes of its session run on. DEAD: nothing of
    it runs. REUSED: its pid now belongs to another program. REBOOTED: it was recorded before the last boot.
    MISRECORDED: its pid is gone and is not the leader of the session it records, which every record we write
    names: the pid was edited (or the file came from another start), so its session's processes say nothing about
    a leader that exited; only the instance's marks can name what runs for it (`cluster/recovery.py`)."""

    ALIVE = "alive"
    SESSION = "session"
    DEAD = "dead"
    REUSED = "reused"
    REBOOTED = "rebooted"
    MISRECORDED = "misrecorded"

    @property
    def running(self) -> bool:
        return self in (Liveness.ALIVE, Liveness.SESSION)

    @property
    def misnamed(self) -> bool:
        """The record names no process of its instance on this boot: its instance may still run under another pid,
        which only the instance's marks can prove (`cluster/recovery.misrecorded`)."""
        return self in (Liveness.DEAD, Liveness.REUSED, Liveness.MISRECORDED)


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


def liveness(record: InstanceRecord, table: ProcessTable | None = None) -> Liveness:
    """Whether the recorded instance runs, from its leader's stat line and, once the leader is gone, from `table`
    (scanned when needed; pass one table to check many records with one pass over /proc)."""
    if record.boot_id and record.boot_id != boot_id():
        return Liveness.REBOOTED
    leader = read_stat(record.pid)
    if leader is not None and not _same_process(record, leader):
        # Linux gives a pid to no new process while a session of that number has members: none of ours is left.
        return Liveness.REUSED
    if leader is not None and leader.running:
        return Liveness.ALIVE
    if record.session not in (0, record.pid):
        # An instance is spawned as its session's leader and recorded as such: a gone pid that is not the leader
        # never started that session, so the session serving on is no sign that it put itself in the background
        # (with a hand-edited pid, the leader it names as exited may well be the one still serving).
        return Liveness.MISRECORDED
    if record.start_ticks is None or not session_survivors(record, table or ProcessTable()):
        return Liveness.DEAD
    return Liveness.SESSION


def leader_runs(record: InstanceRecord) -> bool:
    """The recorded leader itself still runs (not a zombie, and no other process now has its pid)."""
    leader = read_stat(record.pid)
    return leader is not None and leader.running and _same_process(record, leader)


class SessionWatch:
    """Whether an instance's session runs on after its leader exited, asked again and again (a readiness wait):
    the survivors last found are checked by their own stat lines, and /proc is scanned again only once they are
    all gone."""

    def __init__(self, record: InstanceRecord) -> None:
        self.record = record
        self.survivors: list[ProcessStat] = []

    def alive(self) -> bool:
        self.survivors = [known for known in self.survivors if _still_running(known)]
        if not self.survivors:
            table = ProcessTable()
            self.survivors = [stat for pid in session_survivors(self.record, table) if (stat := table.stat(pid))]
        return bool(self.survivors)


def _still_running(known: ProcessStat) -> bool:
    now = read_stat(known.pid)
    return now is not None and now.running and now.start_ticks == known.start_ticks


def session_survivors(record: InstanceRecord, table: ProcessTable) -> list[int]:
    """The running processes of the instance's session other than its leader, that carry its token."""
    if record.start_ticks is None or not record.token:
        return []
    return [
        stat.pid
        for stat in table.in_session(record.session or record.pid, record.start_ticks)
        if stat.pid != record.pid and table.marker(stat.pid) == record.token
    ]


def escaped(records: Iterable[InstanceRecord], table: ProcessTable) -> dict[str, list[int]]:
    """By record name, the running processes that carry its token but left its session (setsid, a double fork).

    Reads every process's environment once (`ProcessTable.marked`), whatever the number of records.
    """
    current = [
        record
        for record in records
        if record.token and record.start_ticks is not None and record.boot_id in ("", boot_id())
    ]
    if not current:
        return {}
    marked = table.marked([record.token for record in current], min(record.start_ticks or 0 for record in current))
    found = {}
    for record in current:
        session = record.session or record.pid
        pids = [
            stat.pid
            for stat in marked[record.token]
            if stat.session != session and stat.start_ticks >= (record.start_ticks or 0)
        ]
        if pids:
            found[record.name] = pids
    return found


def marked_leader(project: Project, name: str, table: ProcessTable) -> tuple[ProcessStat, InstanceMarks] | None:
    """The running session leader whose environment marks it as instance `name` of this project, for an instance
    whose PID file holds no valid record: the marks prove it ours (only a start of this project writes this folder,
    this name and a token into an environment), so it may be shown, recorded again and stopped. The earliest one:
    a process that left the instance's session later leads a session of its own too. Only our own user's: root
    reads every user's environment, and another user's process may carry any marks it likes."""
    for stat, marks in table.claimed(str(project.root)).get(name, []):
        if stat.pid == stat.session and _owned_by_us(stat.pid):
            return stat, marks
    return None


def _owned_by_us(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def _same_process(record: InstanceRecord, stat: ProcessStat) -> bool:
    if record.start_ticks is not None:
        return stat.start_ticks == record.start_ticks
    return abs(wall_clock_start(stat.start_ticks) - record.create_time) < _CREATE_TIME_TOLERANCE


def _parse(text: str) -> InstanceRecord:
    try:
        data = json.loads(text)
        # Keys this version does not know are ignored, so a newer CLI's records stay readable.
        record = InstanceRecord(**{key: value for key, value in data.items() if key in _FIELDS})
    except (json.JSONDecodeError, TypeError, AttributeError) as error:
        raise ValueError(f"not a PID record: {error}") from None
    if not isinstance(record.pid, int) or not isinstance(record.create_time, int | float):
        raise ValueError("not a PID record: pid or create_time has the wrong type")
    if record.start_ticks is not None and not isinstance(record.start_ticks, int):
        raise ValueError("not a PID record: start_ticks has the wrong type")
    if not isinstance(record.probe_command, list | tuple):
        raise ValueError("not a PID record: probe_command has the wrong type")
    if record.probe_timeout is not None and not isinstance(record.probe_timeout, int | float):
        raise ValueError("not a PID record: probe_timeout has the wrong type")
    # JSON holds it as a list: a tuple again, so that a record read back equals the one written.
    return record._replace(probe_command=tuple(record.probe_command))
