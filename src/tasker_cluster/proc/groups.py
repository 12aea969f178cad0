"""Stop instances with SIGTERM, then SIGKILL after a grace period; know when their processes exit.

An instance is its process group, its session, and what left its session carrying its token (`proc/processes.py`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import psutil

from tasker_cluster.proc.clock import SYSTEM_CLOCK, Clock
from tasker_cluster.proc.processes import ProcessTable, descendants

# After SIGKILL only an uninterruptible sleep (state D) delays the end; past this we report a survivor.
KILL_WAIT = 5.0
_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05

GroupOutcome = Literal["exited", "killed", "survived", "absent"]
Step = Literal["gone", "kill", "give-up", "wait"]


class StopTarget(NamedTuple):
    """An instance to stop: its leader's pid (= its process group's id), the session it leads, the clock tick
    since boot at which it was created (None for a record older than that field), whether the leader itself still
    runs (else only what its session left behind is stopped), the grace period in seconds, and the token its
    processes carry (`proc/processes.py`), by which those that left its session are found."""

    name: str
    leader: int
    start_ticks: int | None
    leader_alive: bool
    grace: float
    session: int
    token: str = ""


class GroupStop(NamedTuple):
    """How a group's stop ended: every process exited (after SIGTERM) or was killed, some survived SIGKILL, or the
    group had no process to stop. `escaped`: processes stopped with it that had left its session."""

    name: str
    outcome: GroupOutcome
    survivors: list[int]
    escaped: Sequence[int] = ()


def next_step(grace: float, killed: bool, elapsed: float, alive: bool) -> Step:
    """The escalation rule for one group, `elapsed` seconds after its SIGTERM: done once nothing is alive; SIGKILL
    once the grace period is over; after KILL_WAIT more, give up and report the survivors."""
    if not alive:
        return "gone"
    if not killed:
        return "kill" if elapsed >= grace else "wait"
    return "give-up" if elapsed >= grace + KILL_WAIT else "wait"


def stop_groups(
    targets: Sequence[StopTarget], meanwhile: Callable[[], None] = lambda: None, *, clock: Clock = SYSTEM_CLOCK
) -> list[GroupStop]:
    """SIGTERM every group at once, wait for all concurrently, SIGKILL each group still alive after its grace.

    `meanwhile` runs once every group has its SIGTERM: work done there overlaps the instances' shutdown.
    """
    started = clock.monotonic()
    # One pass over /proc finds the processes of every group, however many are stopped.
    table = ProcessTable()
    groups = [_Group(target, _processes(_inside(target, table))) for target in targets]
    exits = ExitWatch()
    try:
        for group in groups:
            exits.track(group.members)
            _signal(group, signal.SIGTERM, exits)
            # A process stopped by a signal (SIGSTOP, Ctrl-Z) holds SIGTERM pending until continued, and would be
            # SIGKILLed at the end of its grace period; systemd sends SIGCONT after SIGTERM for the same reason.
            _signal(group, signal.SIGCONT, exits)
        if groups:
            # Reading every environment takes a while on a busy machine: the groups have their SIGTERM first.
            _add_escapees(groups, table, exits)
        meanwhile()
        _wait_or_kill(groups, started, exits, clock)
        return [_result(group, exits) for group in groups]
    finally:
        exits.close()


class _Group:
    """A target, its processes (grown by late joiners when SIGKILL is due), and whether it was killed."""

    def __init__(self, target: StopTarget, members: list[psutil.Process]) -> None:
        self.target = target
        self.members = members
        self.escaped: list[int] = []
        self.killed = False


def _inside(target: StopTarget, table: ProcessTable) -> list[int]:
    """The target's processes in its session, taken before any signal, so a child that leaves the group or
    outlives the leader is still ours to kill: its group, its session and the leader's descendants while the leader
    runs (Linux gives the leader's pid to no other process while any of them lives); once it exited, the processes
    of its session that carry its token."""
    if target.leader_alive:
        return sorted(set(table.in_group_or_session(target.leader)) | descendants(target.leader))
    if target.start_ticks is None or not target.token:
        return []
    return [
        stat.pid
        for stat in table.in_session(target.session, target.start_ticks)
        if stat.pid != target.leader and table.marker(stat.pid) == target.token
    ]


def _add_escapees(groups: Sequence[_Group], table: ProcessTable, exits: ExitWatch) -> None:
    """The processes that carry a group's token outside its session join it, with their SIGTERM now: one read of
    every environment for all groups."""
    targets = [group.target for group in groups]
    marked = table.marked([t.token for t in targets if t.token], min(t.start_ticks or 0 for t in targets))
    for group in groups:
        known = {process.pid for process in group.members}
        since = group.target.start_ticks or 0
        outside = [s.pid for s in marked.get(group.target.token, ()) if s.pid not in known and s.start_ticks >= since]
        escaped = _processes(sorted(outside))
        exits.track(escaped)
        for process in escaped:
            exits.send(process, signal.SIGTERM)
            exits.send(process, signal.SIGCONT)
        group.members += escaped
        group.escaped = [process.pid for process in escaped]


def _processes(pids: Sequence[int]) -> list[psutil.Process]:
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return processes


def _wait_or_kill(groups: Sequence[_Group], started: float, exits: ExitWatch, clock: Clock) -> None:
    """Until every group is gone or given up on, following `next_step`."""
    pending = [group for group in groups if group.members]
    while pending:
        for group in list(pending):
            target = group.target
            alive = bool(exits.alive(group.members))
            step = next_step(target.grace, group.killed, clock.monotonic() - started, alive)
            if step in ("gone", "give-up"):
                pending.remove(group)
            elif step == "kill":
                joiners = _late_joiners(group, exits)
                exits.track(joiners)
                group.members[:] = exits.alive(group.members) + joiners
                _signal(group, signal.SIGKILL, exits)
                group.killed = True
        if pending:
            due = [started + g.target.grace + (KILL_WAIT if g.killed else 0.0) for g in pending]
            exits.wait(max(min(due) - clock.monotonic(), 0.0))


class ExitWatch:
    """Learns that processes exited from pidfds (Linux >= 5.3): woken at the exit itself, no polling of /proc.

    A pidfd becomes readable when its process exits, zombie or not: PID 1 reaps orphans lazily here, and a zombie
    counts as gone. Where a pidfd cannot be had, `wait` falls back to short pauses and psutil checks.
    """

    def __init__(self) -> None:
        self._poll = select.poll()
        self._fds: dict[int, int] = {}
        self._by_pid: dict[int, int] = {}
        self._exited: set[int] = set()
        self._untracked: set[int] = set()
        self._pause = _FIRST_PAUSE

    def track(self, processes: Sequence[psutil.Process]) -> None:
        for process in processes:
            if process.pid in self._by_pid or process.pid in self._exited:
                continue
            try:
                fd = os.pidfd_open(process.pid)
            except ProcessLookupError:
                self._exited.add(process.pid)
                continue
            except OSError:
                self._untracked.add(process.pid)
                continue
            self._fds[fd], self._by_pid[process.pid] = process.pid, fd
            self._poll.register(fd, select.POLLIN)
            # The pid was checked before its pidfd was opened: now that the fd pins the process, check it again.
            if not is_running(process):
                self._mark_exited(fd)

    def alive(self, processes: Sequence[psutil.Process]) -> list[psutil.Process]:
        return [
            process
            for process in processes
            if process.pid not in self._exited and (process.pid in self._by_pid or is_running(process))
        ]

    def send(self, process: psutil.Process, signum: signal.Signals) -> None:
        """Signal through the pidfd when there is one: it cannot reach a process that reused the pid."""
        fd = self._by_pid.get(process.pid)
        if process.pid in self._exited:
            return
        try:
            if fd is not None:
                signal.pidfd_send_signal(fd, signum)
            else:
                # psutil re-checks the create time before signalling, so a recycled PID is never hit.
                process.send_signal(signum)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            return

    def wait(self, seconds: float) -> None:
        """Until a tracked process exits, or `seconds` pass (less when some process cannot be watched by fd)."""
        if self._untracked:
            seconds = min(seconds, self._pause)
            self._pause = min(self._pause * 2, _MAX_PAUSE)
        if not self._fds:
            time.sleep(seconds)
            return
        for fd, _ in self._poll.poll(seconds * 1000):
            self._mark_exited(fd)

    def close(self) -> None:
        for fd in list(self._fds):
            self._poll.unregister(fd)
            os.close(fd)
        self._fds.clear()

    def _mark_exited(self, fd: int) -> None:
        pid = self._fds.pop(fd)
        self._poll.unregister(fd)
        os.close(fd)
        del self._by_pid[pid]
        self._exited.add(pid)


def _result(group: _Group, exits: ExitWatch) -> GroupStop:
    name = group.target.name
    survivors = [process.pid for process in exits.alive(group.members)]
    if survivors:
        return GroupStop(name, "survived", survivors, group.escaped)
    if not group.members:
        return GroupStop(name, "absent", [])
    return GroupStop(name, "killed" if group.killed else "exited", [], group.escaped)


def _signal(group: _Group, signum: signal.Signals, exits: ExitWatch) -> None:
    if group.target.leader_alive and _group_still_ours(group, exits):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group.target.leader, signum)
    for process in group.members:
        exits.send(process, signum)


def _group_still_ours(group: _Group, exits: ExitWatch) -> bool:
    """True while a tracked, still running process is in the group: only then can its id not have been reused.

    Once every member is gone the kernel may hand the number to a new process that starts its own group.
    """
    for process in exits.alive(group.members):
        with contextlib.suppress(OSError):
            if os.getpgid(process.pid) == group.target.leader:
                return True
    return False


def _late_joiners(group: _Group, exits: ExitWatch) -> list[psutil.Process]:
    """Descendants forked during the grace period by members still alive."""
    known = {process.pid for process in group.members}
    joiners = []
    for process in exits.alive(group.members):
        try:
            joiners += [child for child in process.children(recursive=True) if child.pid not in known]
        except psutil.NoSuchProcess:
            continue
    return joiners


def is_running(process: psutil.Process) -> bool:
    """Running and not a zombie: orphans are reaped lazily by PID 1 here, so a dead process can linger as Z."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
