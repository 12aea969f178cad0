"""Scripted collaborators for start and stop: a clock that jumps, a network that answers as told, a spawner that
starts nothing. The logic above them runs for real; no process is spawned or signalled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tasker_cluster.config.model import LogRotation
from tasker_cluster.proc.ports import PortHolder
from tasker_cluster.proc.probes import ProbeResult
from tasker_cluster.proc.processes import ProcessStat
from tasker_cluster.proc.spawn import Spawned

# Beyond Linux's largest pid_max: no process can have it.
NO_SUCH_PID = 5_000_000


class JumpingClock:
    """Time passes only when someone sleeps, and then at once (a real pause of ~0 lets the other threads run)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
        time.sleep(0.0002)


class ScriptedNetwork:
    """Ports listening from a given time on (on the IPv6 loopback only for `ipv6_only`); GET answers per path, a
    redirect's with its Location; TCP connects that succeed where a port listens; exec probes' exit codes in turn;
    taken ports with their holders; with `cannot_run`, every exec probe's command fails to start with that error.
    `timeouts` holds the timeout each probe was given, in order."""

    def __init__(
        self,
        clock: JumpingClock,
        *,
        listens_at: Mapping[int, float] | None = None,
        answers: Mapping[str, int] | None = None,
        taken: Mapping[int, str] | None = None,
        redirects: Mapping[str, str] | None = None,
        ipv6_only: Sequence[int] = (),
        exits: Sequence[int | None] = (0,),
        cannot_run: str | None = None,
    ) -> None:
        self.clock = clock
        self.listens_at = dict(listens_at or {})
        self.answers = dict(answers or {})
        self.taken = dict(taken or {})
        self.redirects = dict(redirects or {})
        self.ipv6_only = set(ipv6_only)
        self.exits = list(exits)
        self.cannot_run = cannot_run
        self.requests: list[str] = []
        self.timeouts: list[float] = []

    def get(self, url: str, timeout: float) -> ProbeResult:
        self.requests.append(url)
        self.timeouts.append(timeout)
        path = "/" + (url.split("/", 3)[3] if url.count("/") >= 3 else "")
        if path in self.redirects:
            return ProbeResult(307, 1.0, None, self.redirects[path])
        return ProbeResult(self.answers.get(path, 200), 1.0, None)

    def connect(self, address: tuple[str, int], timeout: float) -> ProbeResult:
        self.requests.append(f"tcp {address[1]}")
        self.timeouts.append(timeout)
        if self.listening(address):
            return ProbeResult(None, 1.0, None, kind="tcp")
        return ProbeResult(None, None, "refused", kind="tcp")

    def run(self, argv: Sequence[str], timeout: float, cwd: str, env: dict[str, str]) -> ProbeResult:
        """Exit codes from `exits` in turn (the last one repeats); each run takes 10 ms of the clock, but a None
        hangs until it is killed at `timeout`."""
        self.requests.append(" ".join(argv))
        self.timeouts.append(timeout)
        if self.cannot_run is not None:
            return ProbeResult(None, None, self.cannot_run, kind="exec", cannot_run=True)
        code = self.exits.pop(0) if len(self.exits) > 1 else self.exits[0]
        if code is None:
            self.clock.sleep(timeout)
            return ProbeResult(None, timeout * 1000, "timeout", kind="exec")
        self.clock.sleep(0.01)
        return ProbeResult(None, 10.0, None, kind="exec", exit_code=code, output="" if code == 0 else "not yet")

    def listening(self, address: tuple[str, int]) -> bool:
        host, port = address
        if (host == "::1") != (port in self.ipv6_only):
            return False
        at = self.listens_at.get(port)
        return at is not None and self.clock.monotonic() >= at

    def port_free(self, port: int) -> bool:
        return port not in self.taken

    def port_holder(self, port: int) -> PortHolder:
        return PortHolder(None, self.taken[port])


class ScriptedSpawner:
    """Records each spawn; `exits` gives an instance's exit code (None: it keeps running), `fails` makes the spawn
    itself fail with that error."""

    def __init__(self, *, exits: Mapping[str, int] | None = None, fails: Mapping[str, Exception] | None = None) -> None:
        self.exits = dict(exits or {})
        self.fails = dict(fails or {})
        self.spawned: list[Sequence[str]] = []

    def __call__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, rotation: LogRotation
    ) -> Spawned:
        name = env["TASKER_INSTANCE_ID"]
        if name in self.fails:
            raise self.fails[name]
        self.spawned.append(list(argv))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = log_path.stat().st_size if log_path.exists() else 0
        code = self.exits.get(name)
        if code is not None:
            with log_path.open("a") as log:
                log.write(f"{name}: settings.toml: missing key database_url\n")
        poll: Callable[[], int | None] = lambda: code  # noqa: E731
        # Recorded as spawned, also when it exits later: an exit must then take the record away.
        pid = NO_SUCH_PID + len(self.spawned)
        return Spawned(pid, offset, poll, ProcessStat(pid, "S", pid, pid, 1))
