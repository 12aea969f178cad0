"""Starting instances: lock, skip what runs, refuse taken ports, spawn, record, wait until ready.

The core never prints: progress goes to an `on_event` callback and the outcome comes back as a StartReport. The
OS reaches it through three collaborators a test may replace: the spawner, the prober and the clock.

What runs is never changed silently: an instance running with another port or command than the topology now gives
it is reported as outdated, one running outside the topology as extra, and one whose earlier run left processes
outside its session is not started over them; each report says which command settles it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from tasker_cluster.cluster.start_results import (
    InstanceStart,
    StartEvent,
    StartReport,
    background_note,
    failing_health,
    not_ready_detail,
    pids_text,
    runs,
    unhealthy_detail,
)
from tasker_cluster.config.model import ClusterConfig, Instance
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.clock import SYSTEM_CLOCK, Clock
from tasker_cluster.proc.exec_probe import probe_env
from tasker_cluster.proc.interrupts import deferred_interrupt
from tasker_cluster.proc.lock import start_lock
from tasker_cluster.proc.probes import NETWORK, Prober, ReadinessWatch, ReadyResult, ReadyTarget
from tasker_cluster.proc.processes import MARKER, ProcessStat, ProcessTable, boot_id, read_stat, wall_clock_start
from tasker_cluster.proc.records import (
    InstanceRecord,
    Liveness,
    SessionWatch,
    escaped,
    leader_runs,
    liveness,
    read_records,
    remove_record,
    write_record,
)
from tasker_cluster.proc.spawn import Spawned, Spawner, spawn
from tasker_cluster.project import Project

# A start that waits longer than this for another start's lock gives up with a clear message.
LOCK_TIMEOUT = 120.0
LOG_TAIL_LINES = 10
# How long an exited instance's log may take to be complete; longer only if something it started holds its output.
LOG_WRITTEN_TIMEOUT = 1.0
_LOG_TAIL_BYTES = 64 * 1024
# Supervisor's `startsecs` (default 1 s): an instance with no probe counts as started once it has stayed up this
# long, so that one that exits at once (a bad argument, a missing module) is reported with its exit code and log,
# not as ready. Not a key: a service that needs longer to show it works has a probe to say so ("exec").
NO_PROBE_STAY_UP = 1.0


class _Live(NamedTuple):
    """An instance to wait for: spawned now (`spawned` set) or found running from an earlier start (probed where its
    record says it runs). `record` is None only for a spawned process reaped before its stat line could be read."""

    instance: Instance
    pid: int
    log: Path
    log_offset: int
    record: InstanceRecord | None
    spawned: Spawned | None = None

    @property
    def ready_url(self) -> str:
        return self.record.ready_url if self.record is not None else self.instance.ready_url

    @property
    def health_url(self) -> str:
        return self.record.health_url if self.record is not None else self.instance.health_url

    def ready_target(self, timeout: float, exit_code: Callable[[], int | None], project: Project) -> ReadyTarget:
        """The readiness wait's target: probed as its record says (how it was started), else as configured; each
        probe timed as configured, as its startup window is."""
        record, instance = self.record, self.instance
        kind = record.probe if record is not None else instance.probe
        probe_timeout = instance.probe_timeout
        if kind == "http":
            return ReadyTarget(
                instance.name, self.ready_url, timeout, exit_code, self.health_url, probe_timeout=probe_timeout
            )
        url = record.url if record is not None else instance.url
        port = record.port if record is not None else instance.port
        command = tuple(record.probe_command if record is not None else instance.probe_command)
        env = probe_env(project.root, instance.name, port) if kind == "exec" else None
        target = ReadyTarget(
            instance.name, url, timeout, exit_code, None, kind, command, str(project.root), env, probe_timeout
        )
        return target._replace(stay_up=self.stay_up) if kind == "none" else target

    @property
    def stay_up(self) -> float:
        """What is left of its NO_PROBE_STAY_UP window: all of it when spawned now, the rest of it (by its record's
        start time) for one an earlier start (`--no-wait`) left running."""
        if self.spawned is not None or self.record is None:
            return NO_PROBE_STAY_UP
        return max(NO_PROBE_STAY_UP - (time.time() - self.record.create_time), 0.0)


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
            database = None
            # Also when every instance already runs: a start after `cluster db down` must leave the cluster whole.
            # First, in topology order: what the instances need comes (and is said) before them.
            if config.database.mode == "local":
                database = ensure_database_url(config, lambda text: report(StartEvent("database", "", text)))
            found = _partition(project, config, instances, report)
            watched = _Watched(watch, timeout, project)
            watched.add_all(found.running)
            refused, free = _refuse_taken_ports(found.missing, report, prober, found.owners())
            spawned, spawn_failed = _spawn_all(config, free, database, report, watched.add, spawner)
        if watch is not None:
            results = {result.name: result for result in watch.results()}
            lives = [*found.running, *spawned]
            outcomes = [
                _outcome(project, live, results[live.instance.name], watched.sessions.get(live.instance.name))
                for live in lives
            ]
        else:
            outcomes = [
                InstanceStart(live.instance.name, "running", live.pid, log=str(live.log)) for live in found.running
            ]
            outcomes += [InstanceStart(live.instance.name, "started", live.pid, log=str(live.log)) for live in spawned]
    finally:
        if watch is not None:
            watch.close()
    by_name = {outcome.name: outcome for outcome in [*outcomes, *found.settled, *refused, *spawn_failed]}
    return StartReport([by_name[instance.name] for instance in instances], database, found.extra)


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


def instance_env(project: Project, instance: Instance, database: str | None, token: str) -> dict[str, str]:
    """The instance's environment: ours, the topology's `env`, its identity and address, and the marker `token`
    (`proc/processes.py`) by which its processes are found even once they left its session."""
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
    env[MARKER] = token
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


class _Found(NamedTuple):
    """What the PID records say before anything is spawned: instances running as configured (to wait for), outcomes
    settled already (outdated, left-behind), instances to spawn, and running instances the topology lacks."""

    running: list[_Live]
    settled: list[InstanceStart]
    missing: list[Instance]
    extra: list[InstanceRecord]
    others: list[InstanceRecord]

    def owners(self) -> dict[int, str]:
        """Our running instances by session id: a taken port is then named as held by one of them."""
        records = [live.record for live in self.running if live.record is not None] + self.others + self.extra
        return {record.session or record.pid: record.name for record in records}


def _partition(
    project: Project, config: ClusterConfig, instances: Sequence[Instance], on_event: Callable[[StartEvent], None]
) -> _Found:
    """Sort the instances by what their records say; stale PID files are removed on the way, unless processes the
    instance left outside its session still run (its record is what finds them)."""
    from tasker_cluster.cluster.recovery import misrecorded
    from tasker_cluster.cluster.state import drift

    records = read_records(project)
    table = ProcessTable()
    found = _Found([], [], [], [], [])
    for instance in instances:
        name = instance.name
        record = records.valid.get(name)
        if name in records.unreadable:
            record = _rewritten(project, instance, table, on_event)
        if record is None:
            found.missing.append(instance)
            continue
        state = liveness(record, table)
        if state.misnamed and (actual := misrecorded(project, instance, record, table)):
            write_record(project, actual)
            detail = f"rewrote its PID file, which named pid {record.pid}, for pid {actual.pid}"
            on_event(StartEvent("stale", name, detail))
            record, state = actual, Liveness.ALIVE
        changed = drift(instance, record) if state.running else None
        if changed is not None:
            detail = f"{changed}: restart it"
            found.settled.append(InstanceStart(name, "outdated", record.pid, detail, log=record.log))
            found.others.append(record)
            on_event(StartEvent("outdated", name, detail))
        elif state.running:
            log = Path(record.log)
            found.running.append(_Live(instance, record.pid, log, _size(log), record))
            on_event(StartEvent("running", name, f"pid {record.pid}"))
        elif left := escaped([record], table).get(name):
            detail = f"{pids_text(left)} of its last run still {runs(left)} outside its session: `cluster stop {name}`"
            found.settled.append(InstanceStart(name, "left-behind", record.pid, detail, log=record.log))
            on_event(StartEvent("left-behind", name, detail))
        else:
            remove_record(project, name)
            on_event(StartEvent("stale", name, f"removed the stale PID file of pid {record.pid}{_why_stale(state)}"))
            found.missing.append(instance)
    wanted = {instance.name for instance in instances}
    configured = set(config.names())
    for name, record in records.valid.items():
        if name not in wanted and liveness(record, table).running:
            (found.others if name in configured else found.extra).append(record)
    return found


def _rewritten(
    project: Project, instance: Instance, table: ProcessTable, on_event: Callable[[StartEvent], None]
) -> InstanceRecord | None:
    """For a PID file that holds no valid record: the record of the running instance its marks name, written
    again; else the file is removed, as stale."""
    from tasker_cluster.cluster.recovery import recover_record

    record = recover_record(project, instance.name, instance, table)
    if record is None:
        remove_record(project, instance.name)
        on_event(StartEvent("stale", instance.name, "removed an unreadable PID file"))
        return None
    write_record(project, record)
    on_event(StartEvent("stale", instance.name, f"rewrote its unreadable PID file from the marks of pid {record.pid}"))
    return record


def _why_stale(state: Liveness) -> str:
    if state is Liveness.REUSED:
        return " (now another program's)"
    if state is Liveness.REBOOTED:
        return " (recorded before the last boot)"
    if state is Liveness.MISRECORDED:
        return " (not the leader of the session it records: the file was edited)"
    return ""


def _refuse_taken_ports(
    instances: Sequence[Instance], on_event: Callable[[StartEvent], None], prober: Prober, owners: dict[int, str]
) -> tuple[list[InstanceStart], list[Instance]]:
    """Refuse the instances known to listen whose port is taken (naming its holder); the rest are free to spawn."""
    refused: list[InstanceStart] = []
    free: list[Instance] = []
    for instance in instances:
        if not instance.listens or prober.port_free(instance.port):
            free.append(instance)
            continue
        holder = prober.port_holder(instance.port)
        stat = read_stat(holder.pid) if holder.pid is not None else None
        owner = owners.get(stat.session) if stat is not None else None
        text = f"{owner} ({holder.text}), an instance of this cluster" if owner is not None else holder.text
        detail = f"port {instance.port} is taken by {text}"
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

    Spawning back to back keeps the bookkeeping (JSON files) from delaying the later instances. All records are
    written before the start lock is released, so a `stop` never misses one.
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
                token = os.urandom(8).hex()
                try:
                    started = spawner(
                        instance.argv,
                        cwd=project.root,
                        env=instance_env(project, instance, database, token),
                        log_path=log,
                        rotation=config.logs,
                    )
                except ClusterError as error:
                    failed.append(
                        InstanceStart(instance.name, "spawn-failed", detail=error.message, log=str(log), fix=error.fix)
                    )
                    on_event(StartEvent("spawn-failed", instance.name, error.message))
                    continue
                record = record_of(instance, started.stat, token, log) if started.stat is not None else None
                live = _Live(instance, started.pid, log, started.log_offset, record, started)
                spawned.append(live)
                on_event(StartEvent("spawned", instance.name, f"pid {started.pid}"))
                on_spawned(live)
        finally:
            # Also when an event handler raised: whatever was spawned is recorded, so `stop` finds it. Also when
            # it has exited already: processes it left in its session are still found through the record.
            for live in spawned:
                if live.record is not None:
                    write_record(project, live.record)
    return spawned, failed


def record_of(instance: Instance, stat: ProcessStat, token: str, log: Path) -> InstanceRecord:
    from datetime import UTC, datetime

    return InstanceRecord(
        name=instance.name,
        pid=stat.pid,
        create_time=wall_clock_start(stat.start_ticks),
        cmdline=list(instance.argv),
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
        start_ticks=stat.start_ticks,
        boot_id=boot_id(),
        session=stat.session,
        token=token,
        probe=instance.probe,
        probe_command=tuple(instance.probe_command),
        probe_timeout=instance.probe_timeout,
    )


class _Watched:
    """Hands instances to the readiness watch as they turn up; does nothing when the start does not wait."""

    def __init__(self, watch: ReadinessWatch | None, timeout: float | None, project: Project) -> None:
        self._watch = watch
        self._timeout = timeout
        self._project = project
        # What each instance's exit check learnt of its session: a leader that exited may have left it serving.
        self.sessions: dict[str, SessionWatch] = {}

    def add(self, live: _Live) -> None:
        if self._watch is None:
            return
        instance = live.instance
        exit_code = _ExitCode(live)
        if exit_code.session is not None:
            self.sessions[instance.name] = exit_code.session
        timeout = self._timeout if self._timeout is not None else instance.startup_timeout
        self._watch.add(live.ready_target(timeout, exit_code, self._project))

    def add_all(self, lives: Sequence[_Live]) -> None:
        for live in lives:
            self.add(live)


def _ready_event(result: ReadyResult) -> StartEvent:
    health = failing_health(result)
    if health is not None:
        return StartEvent("unhealthy", result.name, f"{result.elapsed:.2f} s, health answered {health.text}")
    return StartEvent(result.outcome, result.name, f"{result.elapsed:.2f} s")


def _one_at_a_time(on_event: Callable[[StartEvent], None]) -> Callable[[StartEvent], None]:
    """`on_event`, serialised: spawning reports from this thread, readiness from the watch's threads."""
    lock = threading.Lock()

    def report(event: StartEvent) -> None:
        with lock:
            on_event(event)

    return report


class _ExitCode:
    """The instance's exit code for the readiness wait: None while its leader, or once the leader exited any other
    process of its session, runs (a command that put itself in the background keeps serving from there)."""

    def __init__(self, live: _Live) -> None:
        self._live = live
        self.session = SessionWatch(live.record) if live.record is not None else None

    def __call__(self) -> int | None:
        live = self._live
        if live.spawned is not None:
            code = live.spawned.poll()
        else:
            code = None if live.record is not None and leader_runs(live.record) else -1
        if code is None or self.session is None:
            return code
        return None if self.session.alive() else code


def _outcome(project: Project, live: _Live, result: ReadyResult, session: SessionWatch | None) -> InstanceStart:
    """An instance's start outcome from what its readiness wait saw. An instance that exited loses its record,
    unless processes it left outside its session still run: the record is what `stop` finds them by."""
    name, pid, log = live.instance.name, live.pid, str(live.log)
    note = _background_note(live, session)
    health = failing_health(result)
    if health is not None:
        detail = unhealthy_detail(live.instance, health, result.elapsed)
        return InstanceStart(name, "unhealthy", pid, detail=detail, log=log, elapsed=result.elapsed, note=note)
    if result.outcome == "ready":
        answers = (result.health, result.last_probe) if result.health and result.last_probe else None
        return InstanceStart(name, "ready", pid, log=log, elapsed=result.elapsed, answers=answers, note=note)
    if result.outcome == "exited" and live.spawned is not None:
        # Its last words (often the reason it exited) may still be on their way through the log writer.
        live.spawned.log_written(LOG_WRITTEN_TIMEOUT)
    tail = log_tail_since(live.log, live.log_offset)
    if result.outcome == "exited":
        return _exited(project, live, result, tail)
    detail = not_ready_detail(live.instance, live.ready_url, result)
    return InstanceStart(
        name, result.outcome, pid, detail=detail, log=log, log_tail=tail, elapsed=result.elapsed, note=note
    )


def _background_note(live: _Live, session: SessionWatch | None) -> str:
    code = live.spawned.poll() if live.spawned is not None else None
    if code is None or session is None or not session.survivors:
        return ""
    return background_note(live.pid, code, [stat.pid for stat in session.survivors])


def _exited(project: Project, live: _Live, result: ReadyResult, tail: list[str]) -> InstanceStart:
    name = live.instance.name
    code = live.spawned.poll() if live.spawned is not None else None
    detail = "exited before it was ready" if code is None else f"exited with code {code} before it was ready"
    left = escaped([live.record], ProcessTable()).get(name) if live.record is not None else None
    if left:
        detail += (
            f"; {pids_text(left)} it started {runs(left)} on outside its session (setsid, a double fork): run the "
            f"command in the foreground; `cluster stop {name}` stops {'it' if len(left) == 1 else 'them'}"
        )
    else:
        remove_record(project, name)
    return InstanceStart(
        name, "exited", live.pid, detail=detail, log=str(live.log), log_tail=tail, elapsed=result.elapsed
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
