"""Spawn an instance into its own session; stop process groups with SIGTERM, then SIGKILL after a grace period."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from tasker_cluster.errors import ClusterError

LOG_ROTATE_BYTES = 10 * 1024 * 1024
LOG_KEEP = 3
# After SIGKILL only an uninterruptible sleep (state D) delays the end; past this we report a survivor.
_KILL_WAIT = 5.0
_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05

StopOutcome = Literal["exited", "killed", "survived", "absent"]


@dataclass
class StopTarget:
    """A group to stop: its leader's PID (= group and session id) and the processes tracked before signalling."""

    name: str
    leader: int
    leader_alive: bool
    grace: float
    members: list[psutil.Process] = field(default_factory=list)


@dataclass(frozen=True)
class StopResult:
    name: str
    outcome: StopOutcome
    survivors: list[int]


def rotate_log(path: Path, max_bytes: int = LOG_ROTATE_BYTES, keep: int = LOG_KEEP) -> None:
    """`name.log` -> `name.log.1` -> ... -> `name.log.<keep>` once it passes `max_bytes`; the oldest is dropped."""
    try:
        if path.stat().st_size <= max_bytes:
            return
    except FileNotFoundError:
        return
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


@dataclass(frozen=True)
class Spawned:
    """A started process, and where its output starts in the log, so an early exit shows only this run's lines."""

    popen: subprocess.Popen[bytes]
    log_offset: int


def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> Spawned:
    """Start `argv` in a new session (so its whole group can be signalled), output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log_path)
    with log_path.open("ab") as log:
        offset = log.tell()
        try:
            popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise ClusterError(
                f"cannot run {argv[0]!r}: {error.strerror or error}",
                "check the service's `command` in config/cluster.toml: the program must exist and be executable",
            ) from None
    return Spawned(popen, offset)


def track(leader: int, *, since: float) -> list[psutil.Process]:
    """Everything that belongs to an instance: its process group, its session, and the leader's descendants.

    Taken before signalling, so a child that leaves the group or outlives the leader is still ours to kill.
    Only processes created at or after `since` (the leader's create time) count, so nothing older is touched.
    """
    found: dict[int, psutil.Process] = {}
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == leader or os.getsid(pid) == leader:
                found[pid] = psutil.Process(pid)
        except (OSError, psutil.Error):
            continue
    try:
        for child in psutil.Process(leader).children(recursive=True):
            found.setdefault(child.pid, child)
    except psutil.NoSuchProcess:
        pass
    return [process for process in found.values() if _created_since(process, since)]


def stop_groups(targets: Sequence[StopTarget]) -> list[StopResult]:
    """SIGTERM every group at once, wait for all concurrently, SIGKILL each group still alive after its grace."""
    started = time.monotonic()
    for target in targets:
        _signal(target, signal.SIGTERM)
    pending = {target.name: target for target in targets if target.members}
    killed: set[str] = set()
    pause = _FIRST_PAUSE
    while pending:
        now = time.monotonic()
        for name, target in list(pending.items()):
            if not _alive(target.members):
                del pending[name]
            elif name not in killed and now - started >= target.grace:
                target.members = _alive(target.members) + _late_joiners(target)
                _signal(target, signal.SIGKILL)
                killed.add(name)
            elif name in killed and now - started >= target.grace + _KILL_WAIT:
                del pending[name]
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)
    return [_result(target, killed) for target in targets]


def _result(target: StopTarget, killed: set[str]) -> StopResult:
    survivors = [process.pid for process in _alive(target.members)]
    if survivors:
        return StopResult(target.name, "survived", survivors)
    if not target.members:
        return StopResult(target.name, "absent", [])
    return StopResult(target.name, "killed" if target.name in killed else "exited", [])


def _signal(target: StopTarget, signum: signal.Signals) -> None:
    if target.leader_alive and _group_still_ours(target):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(target.leader, signum)
    for process in target.members:
        # psutil re-checks the create time before signalling, so a recycled PID is never hit.
        try:
            process.send_signal(signum)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _group_still_ours(target: StopTarget) -> bool:
    """True while a tracked, still running process is in the group: only then can its id not have been reused.

    Once every member is gone the kernel may hand the number to a new process that starts its own group.
    """
    for process in _alive(target.members):
        with contextlib.suppress(OSError):
            if os.getpgid(process.pid) == target.leader:
                return True
    return False


def _late_joiners(target: StopTarget) -> list[psutil.Process]:
    """Descendants forked during the grace period by members still alive."""
    known = {process.pid for process in target.members}
    joiners = []
    for process in _alive(target.members):
        try:
            joiners += [child for child in process.children(recursive=True) if child.pid not in known]
        except psutil.NoSuchProcess:
            continue
    return joiners


def _alive(processes: Sequence[psutil.Process]) -> list[psutil.Process]:
    return [process for process in processes if is_running(process)]


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
