"""`cluster status-quick`: PID files and psutil only, no network and no pydantic: the command run in a loop.

The configured instance names come from the topology file read with tomllib and laid out by `layout`, the same
code the validated topology uses; a file this cheap reading cannot make sense of is handed to the full loader,
which names the problem.
"""

from __future__ import annotations

import tomllib
from typing import Any

from tasker_cluster.cluster.state import (
    Configured,
    DatabaseRow,
    Entry,
    InstanceStatus,
    dead_detail,
    entries,
    with_process,
    without_process,
)
from tasker_cluster.config.placement import ROLES, ServiceShape, place_services, resolve_role_counts
from tasker_cluster.db.postmaster import read_pid_file
from tasker_cluster.db.quick import quick_database_row
from tasker_cluster.proc.records import Liveness, liveness, read_records
from tasker_cluster.project import Project

LOOPBACK_URL = "http://127.0.0.1:{port}"
_ROLE_ORDER = {role: position for position, role in enumerate(ROLES)}


def quick_status(project: Project) -> list[InstanceStatus]:
    """`running`, `dead` or `stopped` for every configured or recorded instance."""
    return [_status_of(row) for row in entries(configured_instances(project), read_records(project))]


def quick_database(project: Project) -> DatabaseRow | None:
    """The database row from postmaster.pid and psutil alone; None when the cluster uses no database."""
    row = quick_database_row(project)
    if row.kind == "none":
        return None
    if row.kind == "external":
        return DatabaseRow("external", "unknown", None, None, None, detail="external server: status-quick never probes")
    if row.running:
        return DatabaseRow("local", "running", row.pid, row.port, row.uptime_s)
    # The pid file of a kill -9ed server stays behind, like an instance's PID file.
    stale = read_pid_file(row.data_dir) if row.data_dir is not None else None
    if stale is not None:
        return DatabaseRow("local", "dead", stale.pid, stale.port, None, detail="postmaster.pid outlived its server")
    return DatabaseRow("local", "stopped", None, row.port, None)


def configured_instances(project: Project) -> list[Configured]:
    try:
        shapes = _shapes(project)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
        return _validated(project)
    overrides = resolve_role_counts(project.env_file, {})
    configured = []
    for placement in place_services(project.config_file, shapes, overrides):
        for offset, name in enumerate(placement.instance_names()):
            port = placement.base_port + offset
            configured.append(Configured(name, placement.service, placement.role, port, LOOPBACK_URL.format(port=port)))
    configured.sort(key=lambda item: _ROLE_ORDER[item.role])
    return configured


def _shapes(project: Project) -> list[ServiceShape]:
    with project.config_file.open("rb") as file:
        services: dict[str, Any] = tomllib.load(file)["services"]
    shapes = []
    for name, table in services.items():
        role, count, base = table["role"], table["count"], table.get("base_port")
        if role not in ROLES or type(count) is not int or not (base is None or type(base) is int):
            raise ValueError(f"services.{name} needs the full validation")
        shapes.append(ServiceShape(name, role, count, base))
    return shapes


def _validated(project: Project) -> list[Configured]:
    from tasker_cluster.config.load import load_topology

    return load_topology(project).configured()


def _status_of(row: Entry) -> InstanceStatus:
    if row.record is None and not row.unreadable:
        return without_process(row, "stopped")
    state = liveness(row.record) if row.record else None
    if row.record is not None and state is Liveness.ALIVE:
        return with_process(row.record, "running")
    return without_process(row, "dead", dead_detail(row, state is Liveness.REUSED))
