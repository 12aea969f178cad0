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
    "probe-error",
    "unhealthy",
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
    "probe-error",
    "unhealthy",
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
    background); `fix` is the fix of a failure that knows its own (a command that cannot be run)."""

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
    fix: str = ""


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
    """Why `instance` is not ready, and for a redirect, the wrong loopback or a probe command that cannot be run,
    what to change."""
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
    if result.outcome == "probe-error" and result.last_probe is not None:
        key = f"services.{instance.service}"
        return f"{_why_check_failed(key, result.last_probe, instance.probe_timeout)}; it is still running"
    why = _why_not_ready(instance, ready_url, result.last_probe)
    return f"not ready after {result.elapsed:.1f} s: {why}; it is still running"


def failing_health(result: ReadyResult) -> ProbeResult | None:
    """The health path's answer of an instance found ready when it is not 2xx: it answers its ready path (Kubernetes'
    readiness) but not its health path (liveness), which Kubernetes would restart it for, so it is not up. None
    otherwise, also when the health probe got no answer in time (`status` shows it)."""
    health = result.health
    if result.outcome != "ready" or health is None or health.kind != "http" or not health.answered or health.ok:
        return None
    return health


def unhealthy_detail(instance: Instance, health: ProbeResult, elapsed: float) -> str:
    """Why an instance ready in `elapsed` seconds is not up (`failing_health`), and what to change."""
    path, code = instance.health_path, health.status_code
    said = f"ready in {elapsed:.2f} s, but its health path {path} answered {code}"
    if code is not None and 300 <= code < 500 and code not in (408, 429):
        return (
            f"{said}: set services.{instance.service}.health_path to a path the instance serves (2xx while it is "
            "healthy); it is still running"
        )
    return f"{said}: the instance reports itself unhealthy, its log says why; it is still running"


def _why_not_ready(instance: Instance, ready_url: str, probe: ProbeResult | None) -> str:
    """What the last probe of a start that timed out says, and what to change for each kind of answer."""
    path, key = instance.ready_path, f"services.{instance.service}"
    if probe is None:
        return "it was never probed"
    if probe.kind == "tcp":
        return _why_not_open(key, ready_url, probe)
    if probe.kind == "exec":
        return _why_check_failed(key, probe, instance.probe_timeout)
    if probe.status_code is not None and 400 <= probe.status_code < 500 and probe.status_code not in (408, 429):
        return (
            f"its ready path {path} answered {probe.status_code}: set {key}.ready_path to a path the instance serves "
            "(2xx once it is ready)"
        )
    if probe.answered:
        return (
            f"its ready path {path} still answered {probe.status_code}: its log says why it is not ready, or a longer "
            f"{key}.startup_timeout gives it time"
        )
    if probe.error == "refused":
        return (
            f"nothing listened on {urlsplit(ready_url).netloc}: its command must serve HTTP on its port (`{{port}}` in "
            "the command, or TASKER_INSTANCE_PORT)"
        )
    if probe.error == "timeout":
        return f"its ready path {path} never answered: the instance accepts connections but does not respond"
    return f"its ready path {path} never answered with HTTP ({probe.error}): its port must serve HTTP"


def _why_not_open(key: str, url: str, probe: ProbeResult) -> str:
    address = urlsplit(url).netloc
    if probe.error == "refused":
        return (
            f"its TCP probe found nothing listening on {address}: its command must listen on its port (`{{port}}` in "
            f'the command, or TASKER_INSTANCE_PORT); for a service that opens no port set {key}.probe = "exec" or '
            '"none"'
        )
    return (
        f"its TCP probe of {address} last ended in {probe.error}: the port accepts no connection; its log says why, "
        f"or a longer {key}.startup_timeout gives it time"
    )


def _why_check_failed(key: str, probe: ProbeResult, probe_timeout: float | None) -> str:
    if probe.exit_code is not None:
        said = f" ({probe.output})" if probe.output else ""
        return (
            f"its probe command last exited with {probe.exit_code}{said}: its output and the instance's log say why, "
            f"or a longer {key}.startup_timeout gives it time"
        )
    if probe.error == "timeout":
        # Here, not at the top: the status tables import this module, and status-quick loads no probe code.
        from tasker_cluster.proc.probes import attempt_timeout

        return (
            "its probe command did not finish within its timeout and was killed: it must exit (0 once the instance "
            f"is ready) within {attempt_timeout('exec', probe_timeout):g} s, or a longer {key}.probe_timeout gives "
            "it time"
        )
    return f"its probe command could not be run ({probe.error}): correct {key}.probe_command"


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
