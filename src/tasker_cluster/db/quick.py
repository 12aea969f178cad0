"""Is the project's database server running, from postmaster.pid and psutil alone: no psycopg, no network."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, NamedTuple

from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import running_postmaster
from tasker_cluster.project import Project

DatabaseKind = Literal["local", "external", "none"]


class DatabaseProcess(NamedTuple):
    """What the files say about the server. `running` is None for an external server: telling would need the
    network. Units: seconds."""

    kind: DatabaseKind
    running: bool | None
    pid: int | None
    port: int | None
    uptime_s: float | None
    data_dir: Path | None


def database_process(project: Project, database: DatabaseSpec | None) -> DatabaseProcess:
    """A local server found running counts even when the config now says "none" or names an external one. Without
    the `[database]` table (None: it could not be read) only a running local server is found."""
    data_dir = existing_data_dir(project)
    record = running_postmaster(data_dir) if data_dir is not None else None
    if record is None and database is not None and database.external_url is not None:
        return DatabaseProcess("external", None, None, None, None, None)
    if record is None:
        if database is None or database.mode == "none":
            return DatabaseProcess("none", False, None, None, None, data_dir)
        return DatabaseProcess("local", False, None, database.port, None, data_dir)
    uptime = max(0.0, time.time() - record.started_at)
    return DatabaseProcess("local", True, record.pid, record.port, uptime, data_dir)
