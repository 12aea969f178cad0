"""The instances under measurement, and a throwaway `cluster` project on free ports that runs them.

Every contender runs the same members (the same argv of `programs/instance.py`), each on its own port block.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from benchlib.paths import CLUSTER, INSTANCE, PYTHON
from tasker_cluster.testing.environment import clean_environment

RANGE = 10


@dataclass(frozen=True)
class Group:
    """One service type of the topology: `count` instances from `base_port`, with instance.py `options`."""

    service: str
    role: str
    count: int
    base_port: int
    options: tuple[str, ...] = ()
    stop_grace: float = 10.0


@dataclass(frozen=True)
class Member:
    name: str
    port: int
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ready_url(self) -> str:
        return self.url + "/health/ready"

    @property
    def argv(self) -> list[str]:
        return [PYTHON, str(INSTANCE), "--port", str(self.port), "--name", self.name, *self.options]


def split_roles(count: int, base: int, options: tuple[str, ...] = ()) -> list[Group]:
    """`count` instances over two roles (the topology holds 10 per role range): half orchestration, half workers."""
    if count > 2 * RANGE:
        raise ValueError(f"at most {2 * RANGE} instances in two roles")
    orchestration = (count + 1) // 2
    return [
        Group("orchestration", "orchestration", orchestration, base, options),
        Group("worker", "worker", count - orchestration, base + RANGE, options),
    ]


def members_of(groups: Sequence[Group]) -> list[Member]:
    return [
        Member(f"{group.service}-{index}", group.base_port + index - 1, group.options)
        for group in groups
        for index in range(1, group.count + 1)
    ]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """What every process the bench starts gets: the machine's basics and nothing of the developer's shell (no
    counts, DATABASE_URL, TASKER_POOL_* or worker concurrency), so the defaults are what is measured."""
    return {**clean_environment(), **(extra or {})}


@dataclass
class ClusterProject:
    """A project folder whose config/cluster.toml runs `groups`; driven through the real `cluster` command."""

    root: Path
    groups: list[Group]
    database: dict[str, Any] = field(default_factory=lambda: {"mode": "none"})

    def __post_init__(self) -> None:
        config = self.root / "config" / "cluster.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        services = {group.service: self._table(group) for group in self.groups}
        config.write_text(tomli_w.dumps({"database": self.database, "services": services}))

    @staticmethod
    def _table(group: Group) -> dict[str, Any]:
        command = ["{python}", str(INSTANCE), "--port", "{port}", "--name", "{name}", *group.options]
        return {
            "role": group.role,
            "count": group.count,
            "base_port": group.base_port,
            "command": command,
            "stop_grace": group.stop_grace,
            "startup_timeout": 30,
        }

    @property
    def members(self) -> list[Member]:
        return members_of(self.groups)

    @property
    def logs(self) -> Path:
        return self.root / ".logs"

    def argv(self, *args: str) -> list[str]:
        return [CLUSTER, "--project-dir", str(self.root), *args]

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=clean_env(), timeout=timeout, check=False
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"cluster {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}")
        return completed

    def clear_logs(self) -> None:
        shutil.rmtree(self.logs, ignore_errors=True)
