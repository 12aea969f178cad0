"""Where a project's files live: the one place that knows the folder layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

CONFIG_RELATIVE = Path("config") / "cluster.toml"
PROJECT_DIR_ENV = "TASKER_PROJECT_DIR"


# NamedTuples, not dataclasses, here and in every record on the way of start/stop/status: this module is imported by
# every `cluster` call, and `dataclasses` (with `inspect`) costs ~13 ms of CPU to import; see cli/fast_path.py.
class Project(NamedTuple):
    """A project folder: `config/cluster.toml` plus the state the CLI keeps beside it."""

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

    @property
    def logs_dir(self) -> Path:
        return self.root / ".logs"

    @property
    def generated_dir(self) -> Path:
        return self.root / "config" / "generated"

    @property
    def templates_dir(self) -> Path:
        return self.root / "config" / "templates"

    @property
    def state_dir(self) -> Path:
        """Git-ignored folder for local state such as the database data folder."""
        return self.root / ".data"

    def pid_file(self, instance: str) -> Path:
        return self.pids_dir / f"{instance}.pid"

    def log_file(self, instance: str) -> Path:
        return self.logs_dir / f"{instance}.log"

    @property
    def start_lock(self) -> Path:
        return self.pids_dir / ".start.lock"

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
