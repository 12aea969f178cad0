"""The contenders of the start and stop benches, each able to start and stop the same members.

`start()` returns seconds from launch until the contender has every member ready: for a command that waits by
itself (`cluster start-all`, the command floor) until it exits; for a manager that never exits (honcho,
supervisord) and for the in-process floor, until the bench's own poller sees every ready url answer 200.
`stop()` returns seconds from the stop request until the contender reports every member gone. `abort()` stops
whatever a failed or interrupted trial left running, and `relocate()` moves the contender to fresh ports: other
engineers' tests pick free ports from the same range, and may take one of ours between two trials.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchlib import floor
from benchlib.fleet import RANGE, ClusterProject, Group, Member, clean_env, members_of
from benchlib.paths import FLOOR, PYTHON
from benchlib.peers import Honcho, Supervisord, descendants
from benchlib.report import Result
from tasker_cluster.proc.ports import find_free_port_block, is_port_free
from tasker_cluster.proc.records import read_records
from tasker_cluster.project import Project

READY_TIMEOUT = 60.0


@dataclass
class Noticed:
    """When `cluster start-all` printed each `NAME spawned` and `NAME ready` line, by CLOCK_MONOTONIC."""

    spawned: dict[str, float] = field(default_factory=dict)
    at: dict[str, float] = field(default_factory=dict)


class Contestant:
    label = ""

    def __init__(self, groups: Sequence[Group]) -> None:
        self.groups = list(groups)
        self.configure()

    @property
    def members(self) -> list[Member]:
        return members_of(self.groups)

    def configure(self) -> None:
        """Write whatever configuration the contender reads for the current groups."""

    def start(self) -> float:
        raise NotImplementedError

    def stop(self) -> float:
        raise NotImplementedError

    def abort(self) -> None:
        """Best effort: stop everything this contender may still run."""

    def relocate(self) -> None:
        first = self.groups[0].base_port
        base = find_free_port_block(2 * RANGE)
        self.groups = [replace(group, base_port=base + group.base_port - first) for group in self.groups]
        self.configure()

    def ports_free(self) -> bool:
        return all(is_port_free(member.port) for member in self.members)

    def wait_ports_free(self, timeout: float = 10.0) -> None:
        """Every member's port free again: nothing of this contender is left listening."""
        deadline = time.monotonic() + timeout
        while not self.ports_free():
            if time.monotonic() > deadline:
                taken = [member.port for member in self.members if not is_port_free(member.port)]
                raise RuntimeError(f"{self.label}: ports still taken after stop: {taken}")
            time.sleep(0.01)


def attempt(contestant: Contestant, action: Callable[[], float], result: Result) -> float:
    """Run a timed start. Ports a stranger took since the last trial are a note: the contender moves before it
    starts. A start that fails is a miss (`result.failed_starts`), even though it is retried once on fresh ports to
    finish the run."""
    if not contestant.ports_free():
        result.notes.append(f"{contestant.label}: a port of ours was taken by another process; moved to fresh ports")
        contestant.relocate()
    try:
        return action()
    except (RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
        result.failed_starts.append(f"{contestant.label}: {str(error).splitlines()[0][:200]}")
        contestant.abort()
        contestant.relocate()
        return action()


class ClusterCli(Contestant):
    label = "cluster"

    def __init__(self, folder: Path, groups: Sequence[Group]) -> None:
        self.folder = folder
        self.noticed = Noticed()
        self.launched = 0.0
        self.cpu = 0.0
        super().__init__(groups)

    def configure(self) -> None:
        self.project = ClusterProject(self.folder, self.groups)

    def start(self) -> float:
        self.project.clear_logs()
        self.noticed = Noticed()
        started = self.launched = time.monotonic()
        process = subprocess.Popen(
            self.project.argv("start-all"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
        )
        reader = threading.Thread(target=self._read_events, args=(process,), daemon=True)
        reader.start()
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.monotonic() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        reader.join()
        if code != 0:
            raise RuntimeError(f"cluster start-all exited {code}: {errors[-2000:]}")
        return elapsed

    def _read_events(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            words = line.split()
            if len(words) >= 2 and words[1] == "ready":
                self.noticed.at[words[0]] = time.monotonic()
            elif len(words) >= 2 and words[1] == "spawned":
                self.noticed.spawned[words[0]] = time.monotonic()

    def stop(self) -> float:
        started = time.monotonic()
        self.project.run("stop")
        return time.monotonic() - started

    def abort(self) -> None:
        self.project.run("stop", "--timeout", "2", check=False)

    def leader_pids(self) -> list[int]:
        """The instances' pids, from the PID records `cluster` wrote."""
        return [record.pid for record in read_records(Project(self.project.root)).valid.values()]

    def readiness_marks(self) -> dict[str, tuple[float, float | None]]:
        """Per member, from its log: (ready-at, first-ready) CLOCK_MONOTONIC seconds of this run."""
        return {member.name: readiness_marks(self.project.logs / f"{member.name}.log") for member in self.members}


def readiness_marks(log: Path) -> tuple[float, float | None]:
    """(ready-at, first-ready) from an instance's output: when it could first answer 200, when it first did.

    The instance prints first-ready just after sending the answer, so a reader quick enough may not see it yet.
    """
    values = instance_marks(log)
    return values["ready-at"], values.get("first-ready")


def instance_marks(log: Path) -> dict[str, float]:
    """Every `ready-at`, `first-probe` and `first-ready` mark (CLOCK_MONOTONIC seconds) an instance printed."""
    values = {}
    for line in log.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key in ("ready-at", "first-probe", "first-ready"):
            values[key] = float(value)
    return values


class FloorInProcess(Contestant):
    """The floor in the bench's own process; instance output goes to files so its detection lag is known too."""

    label = "in-process floor"

    def __init__(self, folder: Path, groups: Sequence[Group]) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.seen: dict[str, float] = {}
        self.spawn_time = 0.0
        super().__init__(groups)

    def start(self) -> float:
        self.folder.mkdir(parents=True, exist_ok=True)
        logs = [self.folder / f"{member.name}.log" for member in self.members]
        started = time.monotonic()
        self.processes = floor.spawn([member.argv for member in self.members], logs)
        self.spawn_time = time.monotonic() - started
        self.seen = floor.wait_ready([member.ready_url for member in self.members], READY_TIMEOUT)
        return time.monotonic() - started

    def lags(self) -> list[float]:
        """Per member: when the floor's poller saw it ready minus when it could first answer 200."""
        return [
            self.seen[member.ready_url] - readiness_marks(self.folder / f"{member.name}.log")[0]
            for member in self.members
        ]

    def stop(self) -> float:
        started = time.monotonic()
        floor.stop_reaping(self.processes)
        elapsed = time.monotonic() - started
        self.processes = []
        return elapsed

    def abort(self) -> None:
        if self.processes:
            floor.stop_reaping(self.processes)
            self.processes = []


class FloorCommand(Contestant):
    label = "Popen floor"

    def __init__(self, groups: Sequence[Group]) -> None:
        self.pids: list[int] = []
        super().__init__(groups)

    def start(self) -> float:
        spec = json.dumps([{"argv": member.argv, "url": member.ready_url} for member in self.members])
        started = time.monotonic()
        completed = subprocess.run([PYTHON, str(FLOOR), "start", spec], capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        if completed.returncode != 0:
            raise RuntimeError(f"floor.py start exited {completed.returncode}: {completed.stderr[-2000:]}")
        self.pids = json.loads(completed.stdout)
        return elapsed

    def stop(self) -> float:
        started = time.monotonic()
        subprocess.run([PYTHON, str(FLOOR), "stop", *map(str, self.pids)], check=True)
        elapsed = time.monotonic() - started
        self.pids = []
        return elapsed

    def leader_pids(self) -> list[int]:
        return list(self.pids)

    def abort(self) -> None:
        if self.pids:
            floor.signal_groups(self.pids)
            floor.wait_gone(self.pids, timeout=10.0)
            self.pids = []


class HonchoManager(Contestant):
    label = "honcho"

    def __init__(self, folder: Path, groups: Sequence[Group]) -> None:
        self.folder = folder
        super().__init__(groups)

    def configure(self) -> None:
        self.honcho = Honcho(self.folder, self.members)

    def start(self) -> float:
        started = time.monotonic()
        self.honcho.start()
        floor.wait_ready([member.ready_url for member in self.members], READY_TIMEOUT)
        return time.monotonic() - started

    def stop(self) -> float:
        """SIGTERM to honcho, which terminates its processes and exits once all have stopped."""
        assert self.honcho.process is not None
        children = descendants(self.honcho.process.pid)
        started = time.monotonic()
        self.honcho.shutdown()
        elapsed = time.monotonic() - started
        floor.wait_gone([child.pid for child in children], timeout=10.0)
        return elapsed

    def abort(self) -> None:
        self.honcho.shutdown()


class SupervisordManager(Contestant):
    label = "supervisord"

    def __init__(self, folder: Path, groups: Sequence[Group], stop_wait: float = 10.0) -> None:
        self.folder = folder
        self.stop_wait = stop_wait
        super().__init__(groups)

    def configure(self) -> None:
        self.supervisor = Supervisord(self.folder, self.members, stop_wait=self.stop_wait)

    def start(self) -> float:
        started = time.monotonic()
        self.supervisor.start()
        floor.wait_ready([member.ready_url for member in self.members], READY_TIMEOUT)
        return time.monotonic() - started

    def stop(self) -> float:
        """`supervisorctl stop all` (it returns once every program is STOPPED); supervisord itself then exits."""
        started = time.monotonic()
        subprocess.run(self.supervisor.ctl("stop", "all"), capture_output=True, check=True, env=clean_env())
        elapsed = time.monotonic() - started
        self.supervisor.shutdown()
        return elapsed

    def abort(self) -> None:
        self.supervisor.shutdown()


def shut_down_all(contestants: Sequence[Contestant]) -> None:
    """Cleanup after an error or at the end: whatever each contender still runs is stopped."""
    for contestant in contestants:
        try:
            contestant.abort()
        except (OSError, RuntimeError, TimeoutError, subprocess.SubprocessError):
            continue
