"""What the kernel says about processes, read from /proc: start time, group, session, state, and our marker.

A process's identity is what cannot change while it lives: its pid, the clock tick since boot at which it was
created, and the boot it belongs to (`/proc/sys/kernel/random/boot_id`). Its command line can change (`exec`,
setproctitle, writing argv), so it is kept for display only. Plain reads of /proc, no psutil: status-quick and
start-all pay for one small file per process they check.

Every instance's environment carries `TASKER_INSTANCE_TOKEN`, a token made for that start; processes that leave
the instance's session (setsid, a double fork) keep it, so they are still found. /proc/PID/environ is readable
for one's own processes (root: all), and it is the environment the process started with: one that clears or
rewrites its environment before exec loses the marker.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

MARKER = "TASKER_INSTANCE_TOKEN"
_MARKER_BYTES = MARKER.encode() + b"="
_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
# States of a process that has exited: a zombie not yet reaped (PID 1 reaps orphans lazily here), or dead.
_EXITED = frozenset("ZXx")
_STOPPED = frozenset("Tt")


class ProcessStat(NamedTuple):
    """One line of /proc/PID/stat: the process's state letter (R, S, D, Z, ...), process group, session, the clock
    tick since boot at which it was created (`start_ticks`; `os.sysconf("SC_CLK_TCK")` per second), the CPU
    time it has used in user and system mode, in ticks (`cpu_ticks`), and its command name (`name`: the kernel's
    `comm`, the executable's name cut at 15 bytes, proc(5))."""

    pid: int
    state: str
    group: int
    session: int
    start_ticks: int
    cpu_ticks: int = 0
    name: str = ""

    @property
    def running(self) -> bool:
        return self.state not in _EXITED

    @property
    def stopped(self) -> bool:
        """Stopped by a signal (T: SIGSTOP, SIGTSTP, ...; t: by a tracer): it runs no code until SIGCONT."""
        return self.state in _STOPPED


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat line; None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            text = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in parentheses may hold spaces and parentheses itself: the fields follow its last ')'.
    end = text.rindex(b")")
    fields = text[end + 2 :].split()
    name = text[text.index(b"(") + 1 : end].decode(errors="replace")
    cpu_ticks = int(fields[11]) + int(fields[12])
    return ProcessStat(pid, fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19]), cpu_ticks, name)


_boot_id: str | None = None


def boot_id() -> str:
    """This boot's id: a record made under another one names processes that no longer exist."""
    global _boot_id
    if _boot_id is None:
        with open(_BOOT_ID_FILE) as file:
            _boot_id = file.read().strip()
    return _boot_id


def wall_clock_start(start_ticks: int) -> float:
    """The creation time in seconds since the epoch, as psutil's `create_time()` computes it (for display)."""
    return start_ticks / os.sysconf("SC_CLK_TCK") + _boot_time()


_boot_time_s: float | None = None


def _boot_time() -> float:
    """`btime` of /proc/stat, read once per command (a start records several instances)."""
    global _boot_time_s
    if _boot_time_s is None:
        with open("/proc/stat", "rb") as file:
            line = next((line for line in file if line.startswith(b"btime")), None)
        if line is None:
            raise RuntimeError("/proc/stat has no btime line")
        _boot_time_s = float(line.split()[1])
    return _boot_time_s


def marker_of(pid: int) -> str | None:
    """The instance token in the process's environment; None when it has none or cannot be read (another user's)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            environ = file.read()
    except OSError:
        return None
    at = environ.find(_MARKER_BYTES)
    # Only at the start of a variable: `OTHER_TASKER_INSTANCE_TOKEN=` is not ours.
    while at > 0 and environ[at - 1] != 0:
        at = environ.find(_MARKER_BYTES, at + 1)
    if at < 0:
        return None
    end = environ.find(b"\0", at)
    return environ[at + len(_MARKER_BYTES) : end if end >= 0 else len(environ)].decode(errors="replace")


class InstanceMarks(NamedTuple):
    """What an instance's environment says of it: the project folder and instance id it was started for, its port
    and its start token (`cluster/start.instance_env`)."""

    project_dir: str
    instance: str
    port: int
    token: str


_MARK_KEYS = {b"TASKER_PROJECT_DIR": "project_dir", b"TASKER_INSTANCE_ID": "instance", b"TASKER_INSTANCE_PORT": "port"}


def instance_marks(pid: int) -> InstanceMarks | None:
    """The marks of an instance in the process's environment; None unless it carries all of them (or it cannot be
    read: another user's process)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            environ = file.read()
    except OSError:
        return None
    found: dict[str, str] = {}
    for entry in environ.split(b"\0"):
        key, _, value = entry.partition(b"=")
        if key in _MARK_KEYS:
            found[_MARK_KEYS[key]] = value.decode(errors="replace")
        elif key == MARKER.encode():
            found["token"] = value.decode(errors="replace")
    if len(found) < 4 or not found["token"] or not found["port"].isdigit():
        return None
    return InstanceMarks(found["project_dir"], found["instance"], int(found["port"]), found["token"])


def descendants(leader: int) -> set[int]:
    """Children, grandchildren... of `leader`, from /proc/PID/task/TID/children (one list per thread)."""
    found: set[int] = set()
    frontier = [leader]
    while frontier:
        kids = {kid for pid in frontier for kid in _children(pid)} - found
        found |= kids
        frontier = list(kids)
    return found


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as file:
                kids += [int(kid) for kid in file.read().split()]
        except OSError:
            continue
    return kids


class ProcessTable:
    """The processes of this machine, read from /proc as little as a question needs, and kept for the next one.

    One table serves every instance a command looks at. Finding a group's or a session's members costs two system
    calls per process (getpgid, getsid), no file; a stat line is read only for the members found, and an environment
    only when a command looks for processes that left their session (`marked`; its cost: bench/README.md, "Process
    table"). A test may hand it `stats` and `markers` (pid -> token) instead.
    """

    def __init__(
        self, stats: Iterable[ProcessStat] | None = None, markers: dict[int, str | None] | None = None
    ) -> None:
        self._stats: dict[int, ProcessStat | None] = {}
        self._pids: list[int] | None = None
        if stats is not None:
            self._stats = {stat.pid: stat for stat in stats}
            self._pids = list(self._stats)
        self._markers: dict[int, str | None] = dict(markers or {})
        self._ids_of: dict[int, tuple[int, int]] = {}
        self._claims: dict[str, dict[str, list[tuple[ProcessStat, InstanceMarks]]]] = {}

    def pids(self) -> list[int]:
        if self._pids is None:
            self._pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
        return self._pids

    def stat(self, pid: int) -> ProcessStat | None:
        if pid not in self._stats:
            self._stats[pid] = read_stat(pid)
        return self._stats[pid]

    def stopped(self, pid: int) -> bool:
        """The process exists and is stopped by a signal (state T or t)."""
        stat = self.stat(pid)
        return stat is not None and stat.stopped

    def marker(self, pid: int) -> str | None:
        if pid not in self._markers:
            self._markers[pid] = marker_of(pid)
        return self._markers[pid]

    def in_group_or_session(self, leader: int) -> list[int]:
        """Every process whose group or session `leader` leads."""
        return [pid for pid in self.pids() if leader in self._ids(pid)]

    def in_session(self, session: int, since: int) -> list[ProcessStat]:
        """The running processes of `session` created at or after tick `since`."""
        found = []
        for pid in self.pids():
            if self._ids(pid)[1] == session:
                stat = self.stat(pid)
                if stat is not None and stat.running and stat.start_ticks >= since:
                    found.append(stat)
        return found

    def marked(self, tokens: Iterable[str], since: int) -> dict[str, list[ProcessStat]]:
        """Running processes created at or after tick `since` whose environment carries one of `tokens`, by token.

        Reads the environment of every process (one small file each): done once per command, for all tokens.
        """
        wanted = set(tokens)
        found: dict[str, list[ProcessStat]] = {token: [] for token in wanted}
        if not wanted:
            return found
        me = os.getpid()
        for pid in self.pids():
            token = self.marker(pid) if pid != me else None
            if token in wanted:
                stat = self.stat(pid)
                if stat is not None and stat.running and stat.start_ticks >= since:
                    found[token].append(stat)
        return found

    def claimed(self, project_dir: str) -> dict[str, list[tuple[ProcessStat, InstanceMarks]]]:
        """Running processes whose environment marks them as an instance of the project at `project_dir`, by
        instance name, earliest started first. Reads the environment of every process, as `marked` does."""
        if project_dir in self._claims:
            return self._claims[project_dir]
        found: dict[str, list[tuple[ProcessStat, InstanceMarks]]] = {}
        me = os.getpid()
        for pid in self.pids():
            marks = instance_marks(pid) if pid != me else None
            if marks is None or marks.project_dir != project_dir:
                continue
            stat = self.stat(pid)
            if stat is not None and stat.running:
                found.setdefault(marks.instance, []).append((stat, marks))
        for processes in found.values():
            processes.sort(key=lambda pair: pair[0].start_ticks)
        self._claims[project_dir] = found
        return found

    def _ids(self, pid: int) -> tuple[int, int]:
        """(group, session); (0, 0) once the process is gone. Read once: a stop asks it for every instance."""
        if pid not in self._ids_of:
            known = self._stats.get(pid)
            if known is not None:
                self._ids_of[pid] = (known.group, known.session)
            else:
                try:
                    self._ids_of[pid] = (os.getpgid(pid), os.getsid(pid))
                except OSError:
                    self._ids_of[pid] = (0, 0)
        return self._ids_of[pid]
