"""Where a project's files live: the one place that knows the folder layout, inside the project and outside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

CONFIG_RELATIVE = Path("config") / "cluster.toml"
PROJECT_DIR_ENV = "TASKER_PROJECT_DIR"
PID_SUFFIX = ".pid"


class Project(NamedTuple):
    """A project folder: `config/cluster.toml` plus the state the CLI keeps beside it.

    NamedTuple, like every record on the way of start, stop and status: see `tasker_cluster/__init__.py`.
    """

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_RELATIVE

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def pids_dir(self) -> Path:
        return self.root / ".pids"

    def pid_file(self, instance: str) -> Path:
        return self.pids_dir / f"{instance}{PID_SUFFIX}"

    @property
    def start_lock(self) -> Path:
        return self.pids_dir / ".start.lock"

    @property
    def logs_dir(self) -> Path:
        return self.root / ".logs"

    def log_file(self, instance: str) -> Path:
        return self.logs_dir / f"{instance}.log"

    @property
    def generated_dir(self) -> Path:
        return self.root / "config" / "generated"

    def generated_file(self, instance: str) -> Path:
        return self.generated_dir / f"{instance}.toml"

    @property
    def templates_dir(self) -> Path:
        return self.root / "config" / "templates"

    @property
    def state_dir(self) -> Path:
        """Git-ignored folder for local state such as the database data folder."""
        return self.root / ".data"

    @property
    def database_lock(self) -> Path:
        """Held by `db up/down/reset`: two racing starts must not both initdb one folder."""
        return self.state_dir / "db.lock"

    @property
    def database_dir(self) -> Path:
        """The local PostgreSQL's data folder when the server's account can reach the project."""
        return self.state_dir / "postgres"

    def shown(self, path: Path) -> str:
        """`path` as messages show it: relative to the project folder when inside it, else as given."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def fallback_state_dir(self) -> Path:
        """/tmp/tasker-cluster-HASH: as root the server runs as `postgres`, which cannot enter a project under /root
        or pytest's 0700 temp folders, and we never chmod a user's folders; named by a hash of the project path."""
        import hashlib

        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"tasker-cluster-{digest}"

    @property
    def fallback_database_dir(self) -> Path:
        return self.fallback_state_dir / "postgres"

    @classmethod
    def discover(cls, explicit: Path | None = None, cwd: Path | None = None) -> Project:
        """An explicit folder, else $TASKER_PROJECT_DIR, else the nearest ancestor of cwd with config/cluster.toml."""
        if explicit is not None:
            return cls(explicit.resolve())
        from_env = os.environ.get(PROJECT_DIR_ENV)
        if from_env:
            return cls(Path(from_env).resolve())
        start = (cwd or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / CONFIG_RELATIVE).is_file():
                return cls(folder)
        return cls(start)
