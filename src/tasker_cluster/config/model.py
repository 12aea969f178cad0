"""The configuration's types: one per concept, plain NamedTuples, shared by every layer above."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from tasker_cluster.errors import UnknownInstance
from tasker_cluster.project import Project

Role = Literal["orchestration", "worker"]
ROLES: tuple[Role, ...] = ("orchestration", "worker")
# Where a count came from, highest precedence first.
CountOrigin = Literal["flag", "environment", ".env", "file"]


class DatabaseSpec(NamedTuple):
    """The `[database]` table, and which server it means: the local one at `port` (database `name`), or an external
    one at `external_url`.

    `external_url` is DATABASE_URL from the environment (`external_source` "environment") or .env (".env") when it
    names a server this project did not provision; None when the local server is meant or `mode` is "none".
    """

    mode: Literal["local", "none"]
    port: int
    name: str
    max_connections: int
    external_url: str | None = None
    external_source: Literal["environment", ".env"] | None = None


class LogRotation(NamedTuple):
    """The `[logs]` table: each instance's log is rotated at `max_bytes` (bytes) while it runs, and `keep` rotated
    files are kept (`name.log.1` .. `name.log.<keep>`, the oldest dropped). Defaults: 10 MiB, 3 kept."""

    max_bytes: int = 10 * 1024 * 1024
    keep: int = 3


class ServiceSpec(NamedTuple):
    """A `[services.NAME]` table after counts are resolved and ports placed."""

    name: str
    role: Role
    count: int
    count_origin: CountOrigin
    count_source: str
    base_port: int
    command: list[str]
    env: dict[str, str]
    health_path: str
    ready_path: str
    startup_timeout: float
    stop_grace: float


class Instance(NamedTuple):
    """One process to run: placeholders substituted, port placed. Units: seconds."""

    name: str
    service: str
    role: Role
    index: int
    port: int
    url: str
    argv: list[str]
    env: dict[str, str]
    health_path: str
    ready_path: str
    startup_timeout: float
    stop_grace: float

    @property
    def health_url(self) -> str:
        return self.url + self.health_path

    @property
    def ready_url(self) -> str:
        return self.url + self.ready_path


class ClusterConfig(NamedTuple):
    """Everything one command needs to know about the cluster, read once from the project's files.

    `dotenv` holds the project's `.env` as read (keys with a value), so that no layer reads the file again.
    """

    project: Project
    database: DatabaseSpec
    services: list[ServiceSpec]
    instances: list[Instance]
    dotenv: Mapping[str, str]
    logs: LogRotation = LogRotation()

    @property
    def config_file(self) -> Path:
        return self.project.config_file

    def select(self, names: Sequence[str]) -> list[Instance]:
        """Instances named, or all instances of a named service, in config order; UnknownInstance otherwise."""
        known = {instance.name for instance in self.instances} | {service.name for service in self.services}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UnknownInstance(unknown, self.names())
        wanted = set(names)
        return [i for i in self.instances if i.name in wanted or i.service in wanted]

    def names(self) -> list[str]:
        return [instance.name for instance in self.instances]

    def by_role(self, role: Role) -> list[Instance]:
        return [instance for instance in self.instances if instance.role == role]

    def orchestration_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("orchestration")]

    def worker_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("worker")]
