"""Where a project's data folder lives: inside the project when the server's account can reach it, else in /tmp
(`Project.fallback_state_dir` says why)."""

from __future__ import annotations

import os
from pathlib import Path

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project


def existing_data_dir(project: Project) -> Path | None:
    """The data folder an earlier `db up` created, if any. File checks only: cheap enough for status-quick."""
    for candidate in (project.database_dir, project.fallback_database_dir):
        try:
            if (candidate / "PG_VERSION").is_file():
                return candidate
        except PermissionError:
            continue
    return None


def choose_data_dir(project: Project) -> tuple[Path, bool]:
    """(data folder, True when it is the /tmp fallback) for a project that has none yet."""
    from tasker_cluster.db.server_user import server_user_can_reach

    state_dir = project.state_dir
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    else:
        if server_user_can_reach(state_dir):
            return project.database_dir, False
    fallback = project.fallback_state_dir
    fallback.mkdir(exist_ok=True)
    if fallback.lstat().st_uid != os.geteuid() or fallback.is_symlink():
        raise ClusterError(
            f"{fallback} exists but belongs to another user, so it cannot hold this project's database",
            f"remove {fallback}, or move the project to a folder the `postgres` user can traverse",
        )
    # Our own folder in /tmp (a 077 umask would make it 0700): the server's account must traverse it.
    os.chmod(fallback, 0o755)
    return project.fallback_database_dir, True
