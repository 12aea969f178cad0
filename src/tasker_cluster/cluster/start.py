"""Starting instances: lock, skip what runs, refuse taken ports, spawn, record, wait until ready.

The core never prints: progress goes to an `on_event` callback and the outcome comes back as a StartReport. The
OS reaches it through three collaborators a test may replace: the spawner, the prober and the clock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from tasker_cluster.config.model import ClusterConfig, Instance
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.clock import SYSTEM_CLOCK, Clock
from tasker_cluster.proc.interrupts import deferred_interrupt
from tasker_cluster.proc.lock import start_lock
from tasker_cluster.proc.probes import NETWORK, Prober, ProbeResult, ReadinessWatch, ReadyResult, ReadyTarget
from tasker_cluster.proc.records import InstanceRecord, Liveness, liveness, read_record, remove_record, write_record
from tasker_cluster.proc.spawn import Spawned, Spawner, spawn
from tasker_cluster.project import Project

# A start that waits longer than this for another start's lock gives up with a clear message.
LOCK_TIMEOUT = 120.0
LOG_TAIL_LINES = 10
# How long an exited instance's log may take to be complete; longer only if something it started holds its output.
LOG_WRITTEN_TIMEOUT = 1.0
_LOG_TAIL_BYTES = 64 * 1024

StartOutcome = Literal["ready", "started", "running", "port-taken", "spawn-failed", "exited", "timeout"]
EventKind = Literal[
    "lock-wait", "database", "stale", "running", "spawned", "port-taken", "spawn-failed", "ready", "exited", "timeout"
]
SUCCESSFUL: frozenset[StartOutcome] = frozenset({"ready", "started", "running"})


class StartEvent(NamedTuple):
    kind: EventKind
    name: str
    detail: str = ""


class InstanceStart(NamedTuple):
    name: str
    outcome: StartOutcome
    pid: int | None = None
    detail: str = ""
    log: str = ""
    log_tail: Sequence[str] = ()
    elapsed: float | None = None
    # (health, ready) answers seen by the readiness wait: the status table after a start is drawn from them.
    answers: tuple[ProbeResult, ProbeResult] | None = None


class StartReport(NamedTuple):
    instances: list[InstanceStart]
    # The DATABASE_URL the instances were given, password included; None when the cluster uses no database.
    database_url: str | None = None

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


class _Live(NamedTuple):
    """An instance to wait for: spawned now (`spawned` set) or found running from an earlier start."""

    instance: Instance
    pid: int
    log: Path
    log_offset: int
    spawned: Spawned | None = None
    record: InstanceRecord | None = None


def start_instances(
    config: ClusterConfig,
    instances: Sequence[Instance],
    *,
    wait: bool = True,
    timeout: float | None = None,
    on_event: Callable[[StartEvent], None] = lambda event: None,
    spawner: Spawner = spawn,
    prober: Prober = NETWORK,
    clock: Clock = SYSTEM_CLOCK,
) -> StartReport:
    """Start each instance not already running; with `wait`, return once all answer their ready path or fail.

    Each instance is watched from the moment it is spawned (or found running), while the rest are spawned:
    readiness is noticed within milliseconds, not after the whole spawn loop. `on_event` is called from more than
    one thread, never from two at once. `timeout` (seconds) replaces each service's startup_timeout.
    """
    project = config.project
    report = _one_at_a_time(on_event)
    watch = None
    if wait and instances:
        watch = ReadinessWatch(lambda result: report(_ready_event(result)), prober=prober, clock=clock)
    try:
        with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: report(StartEvent("lock-wait", "", text))):
            running, missing = _partition(project, instances, report)
            watched = _Watched(watch, timeout)
            watched.add_all(running)
            refused, free = _refuse_taken_ports(missing, report, prober)
            database = None
            # Also when every instance already runs: a start after `cluster db down` must leave the cluster whole.
            if config.database.mode == "local":
                database = ensure_database_url(config, lambda text: report(StartEvent("database", "", text)))
            spawned, spawn_failed = _spawn_all(config, free, database, report, watched.add, spawner)
        if watch is not None:
            results = {result.name: result for result in watch.results()}
            lives = [*running, *spawned]
            outcomes = [_outcome(project, live, results[live.instance.name]) for live in lives]
        else:
            outcomes = [InstanceStart(live.instance.name, "running", live.pid, log=str(live.log)) for live in running]
            outcomes += [InstanceStart(live.instance.name, "started", live.pid, log=str(live.log)) for live in spawned]
    finally:
        if watch is not None:
            watch.close()
    by_name = {outcome.name: outcome for outcome in [*outcomes, *refused, *spawn_failed]}
    return StartReport([by_name[instance.name] for instance in instances], database)


def ensure_database_url(config: ClusterConfig, announce: Callable[[str], None] | None = None) -> str:
    """The URL instances get as DATABASE_URL: the local server (started if needed) or the external one (probed).

    ClusterError when it cannot be had; the caller has spawned nothing yet, and the message says so.
    """
    from tasker_cluster.db.control import ensure_database

    try:
        return ensure_database(config.project, config.database, config.dotenv, announce)
    except ClusterError as error:
        raise ClusterError(
            f"the database is not available, so no instance was started: {error.message}",
            error.fix,
            exit_code=error.exit_code,
        ) from None


_INSTANCE_GRACE_SHARE = 0.8


def instance_deadlines(stop_grace: float, startup_timeout: float) -> dict[str, str]:
    """The deadlines an instance is told, locally and in containers alike (the topology's `env` may override them).

    Its own deadline for finishing in-flight work lies inside the stop's grace period: it must release what it cannot
    finish and close its pool before SIGKILL. It waits for the database as long as its start may take.
    """
    return {
        "TASKER_STOP_GRACE": f"{max(0.5, stop_grace * _INSTANCE_GRACE_SHARE):g}",
        "TASKER_STARTUP_TIMEOUT": f"{startup_timeout:g}",
    }


def instance_env(project: Project, instance: Instance, database: str | None) -> dict[str, str]:
    env = dict(os.environ)
    # Output goes to a log file; unbuffered Python makes `cluster logs -f` show lines as they are written.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(instance_deadlines(instance.stop_grace, instance.startup_timeout))
    env.update(instance.env)
    env.update(
        TASKER_INSTANCE_ID=instance.name,
        TASKER_INSTANCE_PORT=str(instance.port),
        TASKER_BIND_ADDRESS="127.0.0.1",
        TASKER_PROJECT_DIR=str(project.root),
    )
    if database is not None:
        env["DATABASE_URL"] = database
    return env


def log_tail_since(path: Path, offset: int, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` lines written at or after `offset`: only this run's output, not an earlier run's."""
    try:
        with path.open("rb") as file:
            end = file.seek(0, os.SEEK_END)
            file.seek(max(offset, end - _LOG_TAIL_BYTES))
            data = file.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def _partition(
    project: Project, instances: Sequence[Instance], on_event: Callable[[StartEvent], None]
) -> tuple[list[_Live], list[Instance]]:
    """Instances already running (verified by identity), and the rest; stale PID files are removed on the way."""
    running: list[_Live] = []
    missing: list[Instance] = []
    for instance in instances:
        try:
            record = read_record(project, instance.name)
        except ValueError:
            record = None
            remove_record(project, instance.name)
            on_event(StartEvent("stale", instance.name, "removed an unreadable PID file"))
        if record is not None and liveness(record) is Liveness.ALIVE:
            log = Path(record.log)
            running.append(_Live(instance, record.pid, log, _size(log), record=record))
            on_event(StartEvent("running", instance.name, f"pid {record.pid}"))
            continue
        if record is not None:
            remove_record(project, instance.name)
            on_event(StartEvent("stale", instance.name, f"removed the stale PID file of pid {record.pid}"))
        missing.append(instance)
    return running, missing


def _refuse_taken_ports(
    instances: Sequence[Instance], on_event: Callable[[StartEvent], None], prober: Prober
) -> tuple[list[InstanceStart], list[Instance]]:
    refused: list[InstanceStart] = []
    free: list[Instance] = []
    for instance in instances:
        if prober.port_free(instance.port):
            free.append(instance)
            continue
        holder = prober.port_holder(instance.port) or "a process this user cannot see"
        detail = f"port {instance.port} is taken by {holder}"
        refused.append(InstanceStart(instance.name, "port-taken", detail=detail))
        on_event(StartEvent("port-taken", instance.name, detail))
    return refused, free


def _spawn_all(
    config: ClusterConfig,
    instances: Sequence[Instance],
    database: str | None,
    on_event: Callable[[StartEvent], None],
    on_spawned: Callable[[_Live], None],
    spawner: Spawner,
) -> tuple[list[_Live], list[InstanceStart]]:
    """Spawn each instance, watched from that moment; record them all once every one is spawned.

    Spawning back to back keeps the bookkeeping (psutil's import, /proc reads, JSON files) from delaying the
    later instances; by the time the records are written the kernel has published each command line too (see
    `proc.spawn.settled_identity`). All records are written before the start lock is released, so a `stop` never
    misses one.
    """
    project = config.project
    spawned: list[_Live] = []
    failed: list[InstanceStart] = []
    with deferred_interrupt() as interrupt:
        try:
            for instance in instances:
                log = project.log_file(instance.name)
                # A Ctrl-C spawns nothing more; it is raised once the records are written.
                if interrupt.requested:
                    failed.append(InstanceStart(instance.name, "spawn-failed", detail="interrupted", log=str(log)))
                    continue
                try:
                    started = spawner(
                        instance.argv,
                        cwd=project.root,
                        env=instance_env(project, instance, database),
                        log_path=log,
                        rotation=config.logs,
                    )
                except ClusterError as error:
                    failed.append(InstanceStart(instance.name, "spawn-failed", detail=str(error), log=str(log)))
                    on_event(StartEvent("spawn-failed", instance.name, error.message))
                    continue
                live = _Live(instance, started.pid, log, started.log_offset, started)
                spawned.append(live)
                on_event(StartEvent("spawned", instance.name, f"pid {started.pid}"))
                on_spawned(live)
        finally:
            # Also when an event handler raised: whatever was spawned is recorded, so `stop` finds it.
            for live in spawned:
                _write_record_of(project, live)
    return spawned, failed


def _write_record_of(project: Project, live: _Live) -> None:
    assert live.spawned is not None
    identity = live.spawned.identity()
    # No record when the process is already gone: the readiness wait reports it as exited, with its log.
    if identity is not None:
        write_record(project, _record_of(live.instance, live.pid, identity, live.log))


def _record_of(instance: Instance, pid: int, identity: tuple[float, list[str]], log: Path) -> InstanceRecord:
    from datetime import UTC, datetime

    create_time, cmdline = identity
    return InstanceRecord(
        name=instance.name,
        pid=pid,
        create_time=create_time,
        cmdline=cmdline,
        port=instance.port,
        url=instance.url,
        service=instance.service,
        role=instance.role,
        log=str(log),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        health_path=instance.health_path,
        ready_path=instance.ready_path,
        startup_timeout=instance.startup_timeout,
        stop_grace=instance.stop_grace,
    )


class _Watched:
    """Hands instances to the readiness watch as they turn up; does nothing when the start does not wait."""

    def __init__(self, watch: ReadinessWatch | None, timeout: float | None) -> None:
        self._watch = watch
        self._timeout = timeout

    def add(self, live: _Live) -> None:
        if self._watch is None:
            return
        instance = live.instance
        self._watch.add(
            ReadyTarget(
                name=instance.name,
                url=instance.ready_url,
                timeout=self._timeout if self._timeout is not None else instance.startup_timeout,
                exit_code=_exit_code_of(live),
                health_url=instance.health_url,
            )
        )

    def add_all(self, lives: Sequence[_Live]) -> None:
        for live in lives:
            self.add(live)


def _ready_event(result: ReadyResult) -> StartEvent:
    return StartEvent(result.outcome, result.name, f"{result.elapsed:.2f} s")


def _one_at_a_time(on_event: Callable[[StartEvent], None]) -> Callable[[StartEvent], None]:
    """`on_event`, serialised: spawning reports from this thread, readiness from the watch's threads."""
    lock = threading.Lock()

    def report(event: StartEvent) -> None:
        with lock:
            on_event(event)

    return report


def _exit_code_of(live: _Live) -> Callable[[], int | None]:
    if live.spawned is not None:
        return live.spawned.poll
    record = live.record
    return lambda: None if record is not None and liveness(record) is Liveness.ALIVE else -1


def _outcome(project: Project, live: _Live, result: ReadyResult) -> InstanceStart:
    """An instance's start outcome from what its readiness wait saw; an instance that exited loses its record."""
    name, pid, log = live.instance.name, live.pid, str(live.log)
    if result.outcome == "ready":
        answers = (result.health, result.last_probe) if result.health and result.last_probe else None
        return InstanceStart(name, "ready", pid, log=log, elapsed=result.elapsed, answers=answers)
    if result.outcome == "exited" and live.spawned is not None:
        # Its last words (often the reason it exited) may still be on their way through the log writer.
        live.spawned.log_written(LOG_WRITTEN_TIMEOUT)
    tail = log_tail_since(live.log, live.log_offset)
    if result.outcome == "exited":
        remove_record(project, name)
        code = live.spawned.poll() if live.spawned is not None else None
        detail = "exited before it was ready" if code is None else f"exited with code {code} before it was ready"
        return InstanceStart(name, "exited", pid, detail=detail, log=log, log_tail=tail, elapsed=result.elapsed)
    probe = result.last_probe
    if probe is not None and probe.answered:
        last = f"its ready path last answered {probe.status_code}"
    else:
        last = f"its ready path never answered ({probe.error if probe else 'not probed'})"
    detail = f"not ready after {result.elapsed:.1f} s: {last}; it is still running"
    return InstanceStart(name, "timeout", pid, detail=detail, log=log, log_tail=tail, elapsed=result.elapsed)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
