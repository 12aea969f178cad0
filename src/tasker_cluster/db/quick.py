"""The database row of `cluster status-quick`: postmaster.pid and psutil only, no psycopg, pydantic or network."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any, Literal, NamedTuple

from tasker_cluster.config.defaults import DEFAULT_MODE, DEFAULT_NAME, DEFAULT_PORT
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import running_postmaster
from tasker_cluster.db.urls import external_url
from tasker_cluster.project import Project

DatabaseKind = Literal["local", "external", "none"]


class QuickDatabaseRow(NamedTuple):
    """`running` is None for an external server: telling would need the network."""

    kind: DatabaseKind
    running: bool | None
    pid: int | None
    port: int | None
    uptime_s: float | None
    data_dir: Path | None


def _database_table(config_file: Path) -> dict[str, Any]:
    """Unvalidated on purpose: `cluster db` and `start-all` validate; a broken file here falls back to defaults."""
    try:
        with config_file.open("rb") as handle:
            table = tomllib.load(handle).get("database", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return table if isinstance(table, dict) else {}


def database_port_and_name(config_file: Path) -> tuple[int, str]:
    """The `[database]` port and name as the cheap readers see them: a value of the wrong type is the default."""
    table = _database_table(config_file)
    port, name = table.get("port", DEFAULT_PORT), table.get("name", DEFAULT_NAME)
    return (port if type(port) is int else DEFAULT_PORT), (name if isinstance(name, str) else DEFAULT_NAME)


def quick_database_row(project: Project) -> QuickDatabaseRow:
    mode = _database_table(project.config_file).get("mode", DEFAULT_MODE)
    port, name = database_port_and_name(project.config_file)
    data_dir = existing_data_dir(project)
    record = running_postmaster(data_dir) if data_dir is not None else None
    if record is None and mode != "none" and external_url(project, port, name) is not None:
        return QuickDatabaseRow("external", None, None, None, None, None)
    if record is None:
        return QuickDatabaseRow("none" if mode == "none" else "local", False, None, port, None, data_dir)
    uptime = max(0.0, time.time() - record.started_at)
    return QuickDatabaseRow("local", True, record.pid, record.port, uptime, data_dir)
