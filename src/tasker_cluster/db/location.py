"""Where a project's data folder lives: inside the project when the server's account can reach it, else in /tmp.

As root the server runs as `postgres`, which cannot enter a project under /root or pytest's 0700 temp folders; we
never chmod a user's folders, so such projects get a folder in /tmp named by a hash of the project path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

DATA_FOLDER = "postgres"


def in_project_data_dir(project: Project) -> Path:
    return project.state_dir / DATA_FOLDER


def fallback_state_dir(project: Project) -> Path:
    digest = hashlib.sha256(str(project.root).encode()).hexdigest()[:12]
    return Path("/tmp") / f"tasker-cluster-{digest}"


def fallback_data_dir(project: Project) -> Path:
    return fallback_state_dir(project) / DATA_FOLDER


def existing_data_dir(project: Project) -> Path | None:
    """The data folder an earlier `db up` created, if any. File checks only: cheap enough for status-quick."""
    for candidate in (in_project_data_dir(project), fallback_data_dir(project)):
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
            return in_project_data_dir(project), False
    fallback = fallback_state_dir(project)
    fallback.mkdir(exist_ok=True)
    if fallback.lstat().st_uid != os.geteuid() or fallback.is_symlink():
        raise ClusterError(
            f"{fallback} exists but belongs to another user, so it cannot hold this project's database",
            f"remove {fallback}, or move the project to a folder the `postgres` user can traverse",
        )
    # Our own folder in /tmp (a 077 umask would make it 0700): the server's account must traverse it.
    os.chmod(fallback, 0o755)
    return fallback_data_dir(project), True
