"""What a start reports: each instance's outcome and the events on the way, and the words that explain an
instance that did not become ready (a redirect, the wrong loopback, a timeout) or that put itself in the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tasker_cluster.config.model import Instance
    from tasker_cluster.proc.probes import ProbeResult, ReadyResult
    from tasker_cluster.proc.records import InstanceRecord

StartOutcome = Literal[
    "ready",
    "started",
    "running",
    "port-taken",
    "spawn-failed",
    "exited",
    "timeout",
    "redirect",
    "wrong-address",
    "outdated",
    "left-behind",
]
EventKind = Literal[
    "lock-wait",
    "database",
    "stale",
    "running",
    "spawned",
    "port-taken",
    "spawn-failed",
    "ready",
    "exited",
    "timeout",
    "redirect",
    "wrong-address",
    "outdated",
    "left-behind",
]
SUCCESSFUL: frozenset[StartOutcome] = frozenset({"ready", "started", "running"})


class StartEvent(NamedTuple):
    kind: EventKind
    name: str
    detail: str = ""


class InstanceStart(NamedTuple):
    """One instance's outcome. `note` warns of what worked but should not be so (a command that put itself in the
    background)."""

    name: str
    outcome: StartOutcome
    pid: int | None = None
    detail: str = ""
    log: str = ""
    log_tail: Sequence[str] = ()
    elapsed: float | None = None
    # (health, ready) answers seen by the readiness wait: the status table after a start is drawn from them.
    answers: tuple[ProbeResult, ProbeResult] | None = None
    note: str = ""


class StartReport(NamedTuple):
    """Every selected instance's outcome, and the running instances the topology no longer has (`extra`)."""

    instances: list[InstanceStart]
    # The DATABASE_URL the instances were given, password included; None when the cluster uses no database.
    database_url: str | None = None
    extra: Sequence[InstanceRecord] = ()

    @property
    def ok(self) -> bool:
        return all(instance.outcome in SUCCESSFUL for instance in self.instances)

    @property
    def failed(self) -> list[InstanceStart]:
        return [instance for instance in self.instances if instance.outcome not in SUCCESSFUL]

    @property
    def probes(self) -> dict[str, tuple[ProbeResult, ProbeResult]]:
        """(health, ready) answers of the instances found ready, by name."""
        return {instance.name: instance.answers for instance in self.instances if instance.answers is not None}


def not_ready_detail(instance: Instance, ready_url: str, result: ReadyResult) -> str:
    """Why `instance` is not ready, and for a redirect or the wrong loopback, what to change."""
    if result.outcome == "redirect":
        target = result.final_url or ""
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.netloc != urlsplit(ready_url).netloc:
            return (
                f"its ready path {instance.ready_path} redirects to {target}, another server: set "
                f"services.{instance.service}.ready_path to a path the instance answers itself; it is still running"
            )
        return (
            f"its ready path {instance.ready_path} answers {_status_of(result)}, a redirect to {path}: set "
            f'services.{instance.service}.ready_path = "{path}"; it is still running'
        )
    if result.outcome == "wrong-address":
        port = urlsplit(ready_url).port
        return (
            f"it listens on [::1]:{port} only, while its URL is on 127.0.0.1: bind it to 127.0.0.1 "
            "(TASKER_BIND_ADDRESS holds it), not to `localhost` or ::1; it is still running"
        )
    probe = result.last_probe
    if probe is not None and probe.answered:
        last = f"its ready path last answered {probe.status_code}"
    else:
        last = f"its ready path never answered ({probe.error if probe else 'not probed'})"
    return f"not ready after {result.elapsed:.1f} s: {last}; it is still running"


def _status_of(result: ReadyResult) -> str:
    return str(result.last_probe.status_code) if result.last_probe is not None else "a redirect"


def background_note(leader: int, code: int, serving: Sequence[int]) -> str:
    """Said when the leader exited and other processes of its session serve on: the command backgrounds itself."""
    return (
        f"pid {leader} exited with code {code} and left {pids_text(serving)} serving in its session: the command puts "
        "itself in the background; run it in the foreground (no trailing `&`, no daemon mode) so that its exit is seen"
    )


def pids_text(pids: Sequence[int]) -> str:
    """`pid 12` or `pids 12, 13`."""
    return ("pid " if len(pids) == 1 else "pids ") + ", ".join(str(pid) for pid in pids)


def runs(pids: Sequence[int], verb: str = "run") -> str:
    """`verb` agreeing with the number of `pids`: `runs` for one, `run` for more."""
    return f"{verb}s" if len(pids) == 1 else verb
