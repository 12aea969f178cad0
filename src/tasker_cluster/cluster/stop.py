"""Stopping instances: verify each PID record, stop verified groups with escalation, drop stale records unsignalled.

The PID records, not the topology, say what runs: an instance started with a larger count is still found. The
configured instances (pydantic-free, see `quick_status.configured_instances`) only resolve service names and order
the lines. The database is stopped only when asked, after the instances, and an external one only with an explicit
force.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

import psutil

from tasker_cluster.cluster.state import DATABASE_ROW_NAME, Configured
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.groups import ProcessTable, StopResult, StopTarget, stop_groups
from tasker_cluster.proc.records import (
    InstanceRecord,
    Liveness,
    Records,
    liveness,
    read_records,
    remove_record,
    start_lock,
)
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from psutil import Process

# Stop waits for a start in progress, so it never misses an instance being spawned; this bounds that wait.
LOCK_TIMEOUT = 120.0

StopOutcome = Literal["stopped", "killed", "not-running", "stale", "survived", "left-running", "failed"]
SUCCESSFUL: frozenset[StopOutcome] = frozenset({"stopped", "killed", "not-running", "stale", "left-running"})


class InstanceStop(NamedTuple):
    name: str
    outcome: StopOutcome
    pid: int | None = None
    detail: str = ""
    fix: str = ""


def stop_instances(
    project: Project,
    names: Sequence[str] = (),
    *,
    configured: Sequence[Configured] | None = None,
    timeout: float | None = None,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[InstanceStop]:
    """Stop the named instances (or every recorded one); `timeout` overrides each instance's stop grace.

    `meanwhile` runs once every instance has its SIGTERM, while they shut down.
    """
    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: None):
        return _stop_recorded(project, names, configured, timeout, meanwhile)


def stop_with_database(
    project: Project,
    names: Sequence[str] = (),
    *,
    configured: Sequence[Configured] | None = None,
    timeout: float | None = None,
    force_external: bool = False,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[list[InstanceStop], InstanceStop]:
    """Stop the instances, then the project's database, under one start lock: no start slips in between to hand
    new instances a server about to go down. An external server is stopped only with `force_external`."""
    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: None):
        instances = _stop_recorded(project, names, configured, timeout, meanwhile)
        return instances, _stop_database(project, force_external)


def database_left_running(project: Project) -> InstanceStop | None:
    """The note for a plain `stop`: the local database still runs. None when there is no such server."""
    from tasker_cluster.db.quick import quick_database_row

    row = quick_database_row(project)
    if row.kind != "local" or not row.running:
        return None
    return InstanceStop(DATABASE_ROW_NAME, "left-running", row.pid, "`cluster stop --with-db` stops it too")


def _stop_recorded(
    project: Project,
    names: Sequence[str],
    configured: Sequence[Configured] | None,
    timeout: float | None,
    meanwhile: Callable[[], None],
) -> list[InstanceStop]:
    records = read_records(project)
    wanted = _resolve(names, records, configured)
    results: dict[str, InstanceStop] = {}
    targets: list[StopTarget] = []
    # One pass over /proc finds the processes of every instance, however many are stopped.
    table = ProcessTable.scan() if any(name in records.valid for name in wanted) else None
    for name in wanted:
        target, result = _classify(project, name, records, timeout, table)
        if target is not None:
            targets.append(target)
        if result is not None:
            results[name] = result
    for stopped in stop_groups(targets, meanwhile):
        results[stopped.name] = _finish(project, stopped, records.valid[stopped.name], results.get(stopped.name))
    return [results[name] for name in wanted]


def _stop_database(project: Project, force_external: bool) -> InstanceStop:
    """The database's outcome; its failure is an outcome too, so that the instances' results still get reported."""
    try:
        return _stop_database_or_raise(project, force_external)
    except ClusterError as error:
        return InstanceStop(DATABASE_ROW_NAME, "failed", None, error.message, error.fix)


def _stop_database_or_raise(project: Project, force_external: bool) -> InstanceStop:
    from tasker_cluster.db.control import external_database_url, quick_database_row, stop_database
    from tasker_cluster.db.urls import redact

    external = external_database_url(project)
    if external is not None and not force_external:
        detail = f"external server {redact(external)}, not ours to stop; add --yes to stop it (loopback only)"
        return InstanceStop(DATABASE_ROW_NAME, "left-running", None, detail)
    pid = quick_database_row(project).pid
    if not stop_database(project, force_external=force_external):
        return InstanceStop(DATABASE_ROW_NAME, "not-running")
    where = f"external server {redact(external)}" if external is not None else "local PostgreSQL"
    return InstanceStop(DATABASE_ROW_NAME, "stopped", pid, where)


def _resolve(names: Sequence[str], records: Records, configured: Sequence[Configured] | None) -> list[str]:
    recorded = [*records.valid, *records.unreadable]
    order = _configured_order(configured)
    if not names:
        return sorted(recorded, key=order)
    known = [item.name for item in configured or ()]
    services = {item.service for item in configured or ()} | {record.service for record in records.valid.values()}
    unknown = [name for name in names if name not in recorded and name not in known and name not in services]
    if unknown:
        valid = sorted({*known, *recorded}, key=order)
        raise ClusterError(
            f"unknown instance {', '.join(unknown)}",
            f"use instance or service names: {', '.join(valid) or '(none configured or running)'}",
            exit_code=2,
        )
    chosen = {name for name in names if name in recorded or name in known}
    chosen |= {name for name, record in records.valid.items() if record.service in names}
    chosen |= {item.name for item in configured or () if item.service in names}
    return sorted(chosen, key=order)


def _configured_order(configured: Sequence[Configured] | None) -> Callable[[str], tuple[int, str]]:
    order = {item.name: position for position, item in enumerate(configured or ())}
    return lambda name: (order.get(name, len(order)), name)


def _classify(
    project: Project, name: str, records: Records, timeout: float | None, table: ProcessTable | None
) -> tuple[StopTarget | None, InstanceStop | None]:
    """A group to stop, or an outcome settled without signalling anything (not running, stale record)."""
    if name in records.unreadable:
        remove_record(project, name)
        return None, InstanceStop(name, "stale", None, "removed a PID file that holds no valid record; not signalled")
    record = records.valid.get(name)
    if record is None:
        return None, InstanceStop(name, "not-running")
    grace = timeout if timeout is not None else record.stop_grace
    state = liveness(record)
    assert table is not None  # scanned whenever a valid record is wanted
    if state is Liveness.ALIVE:
        return StopTarget(name, record.pid, True, grace, table.members(record.pid, since=record.create_time)), None
    if state is Liveness.REUSED:
        remove_record(project, name)
        detail = f"pid {record.pid} now belongs to another program; removed the stale PID file, not signalled"
        return None, InstanceStop(name, "stale", record.pid, detail)
    leftovers = _leftovers_of_dead_leader(record, table)
    stale = InstanceStop(name, "stale", record.pid, f"pid {record.pid} is gone; removed the stale PID file")
    if not leftovers:
        remove_record(project, name)
        return None, stale
    return StopTarget(name, record.pid, False, grace, leftovers), stale


def _leftovers_of_dead_leader(record: InstanceRecord, table: ProcessTable) -> list[Process]:
    """Processes of the session our instance created, still running after the instance itself died.

    Linux never hands out a PID while a session or group still uses it as its id, so members of session
    `record.pid` created after the instance are its children. A record from before the last boot has none.
    """
    if record.create_time < psutil.boot_time():
        return []
    members = table.members(record.pid, since=record.create_time)
    return [process for process in members if process.pid != record.pid]


def _finish(project: Project, stopped: StopResult, record: InstanceRecord, stale: InstanceStop | None) -> InstanceStop:
    if stopped.outcome == "survived":
        pids = ", ".join(str(pid) for pid in stopped.survivors)
        return InstanceStop(stopped.name, "survived", record.pid, f"still running after SIGKILL: pid {pids}")
    remove_record(project, stopped.name)
    if stale is not None:
        return InstanceStop(stale.name, "stale", stale.pid, f"{stale.detail}; killed the processes it left behind")
    if stopped.outcome == "killed":
        return InstanceStop(stopped.name, "killed", record.pid, "did not exit after SIGTERM; sent SIGKILL")
    return InstanceStop(stopped.name, "stopped", record.pid)
