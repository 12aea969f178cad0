"""Stop process groups with SIGTERM, then SIGKILL after a grace period; know when their processes exit."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import psutil

# After SIGKILL only an uninterruptible sleep (state D) delays the end; past this we report a survivor.
_KILL_WAIT = 5.0
_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05

StopOutcome = Literal["exited", "killed", "survived", "absent"]


class StopTarget(NamedTuple):
    """A group to stop: its leader's PID (= group and session id) and the processes tracked before signalling.

    `members` is updated in place when SIGKILL is due (the survivors and any late joiners).
    """

    name: str
    leader: int
    leader_alive: bool
    grace: float
    members: list[psutil.Process]


class StopResult(NamedTuple):
    name: str
    outcome: StopOutcome
    survivors: list[int]


class ProcessTable(NamedTuple):
    """Every process's group and session, read in one pass over /proc by two system calls each, no file read.

    Stopping N instances used to walk /proc once per instance (psutil's `children` reads every process's stat
    file, ~10 ms here); one table serves them all, and descendants are read from the kernel's per-task
    `children` lists instead.
    """

    groups: dict[int, tuple[int, int]]

    @classmethod
    def scan(cls) -> ProcessTable:
        groups: dict[int, tuple[int, int]] = {}
        for pid in psutil.pids():
            try:
                groups[pid] = (os.getpgid(pid), os.getsid(pid))
            except OSError:
                continue
        return cls(groups)

    def members(self, leader: int, *, since: float) -> list[psutil.Process]:
        """Everything that belongs to an instance: its process group, its session, and the leader's descendants.

        Taken before signalling, so a child that leaves the group or outlives the leader is still ours to kill.
        Only processes created at or after `since` (the leader's create time) count, so nothing older is touched.
        """
        found = {pid for pid, ids in self.groups.items() if leader in ids} | _descendants(leader)
        processes = []
        for pid in sorted(found):
            try:
                process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
            if _created_since(process, since):
                processes.append(process)
        return processes


def _descendants(leader: int) -> set[int]:
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


def stop_groups(targets: Sequence[StopTarget], meanwhile: Callable[[], None] = lambda: None) -> list[StopResult]:
    """SIGTERM every group at once, wait for all concurrently, SIGKILL each group still alive after its grace.

    `meanwhile` runs once every group has its SIGTERM: work done there overlaps the instances' shutdown.
    """
    started = time.monotonic()
    exits = ExitWatch()
    try:
        for target in targets:
            exits.track(target.members)
            _signal(target, signal.SIGTERM, exits)
        meanwhile()
        killed = _wait_or_kill(targets, started, exits)
        return [_result(target, killed, exits) for target in targets]
    finally:
        exits.close()


def _wait_or_kill(targets: Sequence[StopTarget], started: float, exits: ExitWatch) -> set[str]:
    """Until every group is gone; SIGKILL to each still alive after its grace. The names of the killed ones."""
    pending = {target.name: target for target in targets if target.members}
    killed: set[str] = set()
    while pending:
        now = time.monotonic()
        for name, target in list(pending.items()):
            if not exits.alive(target.members):
                del pending[name]
            elif name not in killed and now - started >= target.grace:
                joiners = _late_joiners(target, exits)
                exits.track(joiners)
                target.members[:] = exits.alive(target.members) + joiners
                _signal(target, signal.SIGKILL, exits)
                killed.add(name)
            elif name in killed and now - started >= target.grace + _KILL_WAIT:
                del pending[name]
        if pending:
            due = [started + target.grace + (_KILL_WAIT if name in killed else 0.0) for name, target in pending.items()]
            exits.wait(max(min(due) - time.monotonic(), 0.0))
    return killed


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


def _result(target: StopTarget, killed: set[str], exits: ExitWatch) -> StopResult:
    survivors = [process.pid for process in exits.alive(target.members)]
    if survivors:
        return StopResult(target.name, "survived", survivors)
    if not target.members:
        return StopResult(target.name, "absent", [])
    return StopResult(target.name, "killed" if target.name in killed else "exited", [])


def _signal(target: StopTarget, signum: signal.Signals, exits: ExitWatch) -> None:
    if target.leader_alive and _group_still_ours(target, exits):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(target.leader, signum)
    for process in target.members:
        exits.send(process, signum)


def _group_still_ours(target: StopTarget, exits: ExitWatch) -> bool:
    """True while a tracked, still running process is in the group: only then can its id not have been reused.

    Once every member is gone the kernel may hand the number to a new process that starts its own group.
    """
    for process in exits.alive(target.members):
        with contextlib.suppress(OSError):
            if os.getpgid(process.pid) == target.leader:
                return True
    return False


def _late_joiners(target: StopTarget, exits: ExitWatch) -> list[psutil.Process]:
    """Descendants forked during the grace period by members still alive."""
    known = {process.pid for process in target.members}
    joiners = []
    for process in exits.alive(target.members):
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


def _created_since(process: psutil.Process, since: float) -> bool:
    try:
        return process.create_time() >= since - 0.01
    except psutil.NoSuchProcess:
        return False
