"""Stopping instances: verify each PID record, stop verified groups with escalation, drop stale records unsignalled.

The PID records, not the configuration, say what runs: an instance started with a larger count is still found, and
a broken config/cluster.toml (config None) keeps no one from stopping what runs. The database is stopped only when
asked, after the instances, and an external one only with an explicit force.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from tasker_cluster.cluster.state import InstanceState, observe
from tasker_cluster.config.model import ClusterConfig, DatabaseSpec
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.groups import GroupStop, StopTarget, stop_groups
from tasker_cluster.proc.lock import start_lock
from tasker_cluster.proc.records import InstanceRecord, Liveness, read_record, remove_record
from tasker_cluster.project import Project

# Stop waits for a start in progress, so it never misses an instance being spawned; this bounds that wait.
LOCK_TIMEOUT = 120.0
DATABASE = "database"

StopOutcome = Literal["stopped", "killed", "not-running", "stale", "survived", "left-running", "failed"]
SUCCESSFUL: frozenset[StopOutcome] = frozenset({"stopped", "killed", "not-running", "stale", "left-running"})


class InstanceStop(NamedTuple):
    """What `stop` did to one instance (or the database): its outcome, and a detail and fix when there is one."""

    name: str
    outcome: StopOutcome
    pid: int | None = None
    detail: str = ""
    fix: str = ""


def stop_instances(
    project: Project,
    config: ClusterConfig | None,
    names: Sequence[str] = (),
    *,
    timeout: float | None = None,
    meanwhile: Callable[[], None] = lambda: None,
    stopper: Callable[..., list[GroupStop]] = stop_groups,
) -> list[InstanceStop]:
    """Stop the named instances or services (every recorded one when `names` is empty); `timeout` (seconds)
    overrides each instance's stop grace. `meanwhile` runs once every instance has its SIGTERM, while they shut
    down; `stopper` signals the groups (the real one unless a test drives the outcomes)."""
    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: None):
        return _stop_recorded(project, config, names, timeout, meanwhile, stopper)


def stop_with_database(
    project: Project,
    config: ClusterConfig | None,
    database: DatabaseSpec | ClusterError,
    names: Sequence[str] = (),
    *,
    timeout: float | None = None,
    force_external: bool = False,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[list[InstanceStop], InstanceStop]:
    """Stop the instances, then the project's database, under one start lock: no start slips in between to hand
    new instances a server about to go down. An external server is stopped only with `force_external`; a
    `database` that could not be configured is reported as the database's failure, after the instances' results."""
    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: None):
        instances = _stop_recorded(project, config, names, timeout, meanwhile, stop_groups)
        return instances, _stop_database(project, database, force_external)


def database_left_running(project: Project, database: DatabaseSpec) -> InstanceStop | None:
    """The note for a plain `stop`: the local database still runs. None when there is no such server."""
    from tasker_cluster.db.quick import database_process

    process = database_process(project, database)
    if process.kind != "local" or not process.running:
        return None
    return InstanceStop(DATABASE, "left-running", process.pid, "`cluster stop --with-db` stops it too")


def display_order(project: Project, config: ClusterConfig | None) -> list[str]:
    """The instance names in the status table's order (`observe()`'s: configured ones in the topology's order, then
    the others), from the PID records without checking a process."""
    return observe(project, config, check=False).names()


def in_order(results: Sequence[InstanceStop], names: Sequence[str]) -> list[InstanceStop]:
    """`results` in the order of `names`; a result whose name is not there comes after, in its own order."""
    position = {name: index for index, name in enumerate(names)}
    return sorted(results, key=lambda result: position.get(result.name, len(position)))


def _stop_recorded(
    project: Project,
    config: ClusterConfig | None,
    names: Sequence[str],
    timeout: float | None,
    meanwhile: Callable[[], None],
    stopper: Callable[..., list[GroupStop]],
) -> list[InstanceStop]:
    state = observe(project, config)
    wanted = state.select(names) if names else [instance for instance in state.instances if instance.recorded]
    results: dict[str, InstanceStop] = {}
    targets: list[StopTarget] = []
    records: dict[str, InstanceRecord] = {}
    for instance in wanted:
        target, result = classify(instance, timeout)
        if target is not None:
            targets.append(target)
            assert instance.record is not None
            records[instance.name] = instance.record
        if result is not None:
            results[instance.name] = result
        if target is None and instance.recorded:
            remove_record(project, instance.name)
    recovered = {instance.name for instance in wanted if instance.recovered}
    graces = {target.name: target.grace for target in targets}
    for stopped in stopper(targets, meanwhile):
        grace = graces[stopped.name]
        results[stopped.name] = finish(stopped, records[stopped.name], results.get(stopped.name), grace=grace)
        if stopped.name in recovered:
            results[stopped.name] = _found_by_marks(project, results[stopped.name])
        if results[stopped.name].outcome != "survived":
            remove_record(project, stopped.name)
    return [results[instance.name] for instance in wanted]


def classify(instance: InstanceState, timeout: float | None) -> tuple[StopTarget | None, InstanceStop | None]:
    """A group to stop, or an outcome settled without signalling anything (not running, stale record), or both
    (a dead leader whose session left processes behind). A record with no target is stale: the caller removes it."""
    if instance.unreadable and instance.record is None:
        return None, InstanceStop(
            instance.name, "stale", None, "removed a PID file that holds no valid record; not signalled"
        )
    record = instance.record
    if record is None:
        return None, InstanceStop(instance.name, "not-running")
    grace = timeout if timeout is not None else record.stop_grace
    session = record.session or record.pid
    if instance.liveness is Liveness.ALIVE:
        return StopTarget(instance.name, record.pid, record.start_ticks, True, grace, session, record.token), None
    if instance.liveness is Liveness.REUSED:
        detail = f"pid {record.pid} now belongs to another program; removed the stale PID file, not signalled"
        return None, InstanceStop(instance.name, "stale", record.pid, detail)
    if instance.liveness is Liveness.REBOOTED:
        detail = f"pid {record.pid} was recorded before the last boot; removed the stale PID file, not signalled"
        return None, InstanceStop(instance.name, "stale", record.pid, detail)
    if instance.liveness is Liveness.MISRECORDED:
        # Its session may serve on, but nothing proves it this record's: its marks named no process (recovery).
        detail = (
            f"pid {record.pid} is gone and never led the session the file records ({record.session}): "
            "the file was edited; removed it, not signalled"
        )
        return None, InstanceStop(instance.name, "stale", record.pid, detail)
    target = StopTarget(instance.name, record.pid, record.start_ticks, False, grace, session, record.token)
    if instance.liveness is Liveness.SESSION:
        # The leader exited (the command put itself in the background): its session is the instance.
        return target, None
    stale = InstanceStop(instance.name, "stale", record.pid, f"pid {record.pid} is gone; removed the stale PID file")
    # Processes of its session, or that left it, may outlive it: the group stop finds and stops them.
    return target, stale


def finish(stopped: GroupStop, record: InstanceRecord, stale: InstanceStop | None, *, grace: float) -> InstanceStop:
    """The instance's outcome once its group was stopped (or found empty) with a grace period of `grace` seconds.

    A grace period of 0 is a kill at once, as `docker compose stop -t 0`: SIGKILL follows SIGTERM without a wait,
    and the detail says so instead of blaming the instance for not exiting.
    """
    escaped = ""
    if stopped.escaped:
        pids = ", ".join(str(pid) for pid in stopped.escaped)
        escaped = f"with pid {pids}, which had left its session"
    if stopped.outcome == "survived":
        pids = ", ".join(str(pid) for pid in stopped.survivors)
        return InstanceStop(stopped.name, "survived", record.pid, f"still running after SIGKILL: pid {pids}")
    if stale is not None:
        if stopped.outcome == "absent":
            return stale
        return InstanceStop(stale.name, "stale", stale.pid, f"{stale.detail}; stopped the processes it left behind")
    if stopped.outcome == "killed":
        detail = "did not exit after SIGTERM; sent SIGKILL"
        if grace <= 0:
            detail = "no grace period (0 s): SIGKILL right after SIGTERM"
        return InstanceStop(stopped.name, "killed", record.pid, f"{detail} ({escaped})" if escaped else detail)
    return InstanceStop(stopped.name, "stopped", record.pid, escaped)


def _found_by_marks(project: Project, result: InstanceStop) -> InstanceStop:
    try:
        named = read_record(project, result.name)
    except ValueError:
        named = None
    why = "held no valid record" if named is None else f"named pid {named.pid}, which is not its process"
    note = f"its PID file {why}: found by the marks in its environment"
    return result._replace(detail=f"{note}; {result.detail}" if result.detail else note)


def _stop_database(project: Project, database: DatabaseSpec | ClusterError, force_external: bool) -> InstanceStop:
    """The database's outcome; its failure is an outcome too, so that the instances' results still get reported."""
    try:
        if isinstance(database, ClusterError):
            raise database
        return _stop_database_or_raise(project, database, force_external)
    except ClusterError as error:
        return InstanceStop(DATABASE, "failed", None, error.message, error.fix)


def _stop_database_or_raise(project: Project, database: DatabaseSpec, force_external: bool) -> InstanceStop:
    from tasker_cluster.db.control import stop_database
    from tasker_cluster.db.quick import database_process
    from tasker_cluster.db.urls import redact

    external = database.external_url
    if external is not None and not force_external:
        detail = f"external server {redact(external)}, not ours to stop; add --yes to stop it (loopback only)"
        return InstanceStop(DATABASE, "left-running", None, detail)
    pid = database_process(project, database).pid
    if not stop_database(project, database, force_external=force_external):
        return InstanceStop(DATABASE, "not-running")
    where = f"external server {redact(external)}" if external is not None else "local PostgreSQL"
    return InstanceStop(DATABASE, "stopped", pid, where)
