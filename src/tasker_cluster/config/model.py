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
# How an instance's readiness and health are probed (Kubernetes' httpGet / tcpSocket / exec probes; "none" as a pod
# without a readiness probe or process-compose's process_started: ready once it has stayed up supervisor's startsecs).
ProbeKind = Literal["http", "tcp", "exec", "none"]
PROBE_KINDS: tuple[ProbeKind, ...] = ("http", "tcp", "exec", "none")
# The kinds whose probe is answered on the instance's port: only these say that it listens there. Like docker
# compose and process-compose, which check a port only when a service declares one, start-all checks these ports
# alone before spawning; an "exec" or "none" instance that listens on a taken port fails by itself, in its log.
LISTENING_PROBES: frozenset[ProbeKind] = frozenset({"http", "tcp"})
# The name the database goes by beside the instances: status's row, start's and stop's event lines.
DATABASE_ROW_NAME = "database"


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
    """A `[services.NAME]` table after counts are resolved and ports placed: `count` came from `count_origin`
    (`count_source` names the flag, variable or key), `file_count` is what config/cluster.toml itself says."""

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
    file_count: int
    probe: ProbeKind = "http"
    # The probe's argv template (placeholders as in `command`); empty unless `probe` is "exec".
    probe_command: tuple[str, ...] = ()
    # Seconds one probe may take before it counts as failed; None: its kind's default (`proc/probes.py`).
    probe_timeout: float | None = None


class RoleCount(NamedTuple):
    """A role's instance count, where it came from, and what the file alone would give it."""

    role: Role
    count: int
    origin: CountOrigin
    source: str
    file_count: int

    @property
    def overridden(self) -> bool:
        return self.origin != "file"


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
    probe: ProbeKind = "http"
    # The exec probe's argv, placeholders substituted; empty unless `probe` is "exec".
    probe_command: tuple[str, ...] = ()
    probe_timeout: float | None = None

    @property
    def listens(self) -> bool:
        """Whether its probe says it listens on `port` (LISTENING_PROBES); it is given the port either way."""
        return self.probe in LISTENING_PROBES

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
            raise UnknownInstance(unknown, self.names(), [service.name for service in self.services])
        wanted = set(names)
        return [i for i in self.instances if i.name in wanted or i.service in wanted]

    def names(self) -> list[str]:
        return [instance.name for instance in self.instances]

    def by_role(self, role: Role) -> list[Instance]:
        return [instance for instance in self.instances if instance.role == role]

    def role_counts(self) -> list[RoleCount]:
        """Each role's total over its services, with its origin: a flag, environment or .env total is split over
        the role's services, so they share it; without one, each service's own count is the file's."""
        counts = []
        for role in ROLES:
            services = [service for service in self.services if service.role == role]
            overriding = next((service for service in services if service.count_origin != "file"), None)
            file_count = sum(service.file_count for service in services)
            origin, source = ("file", "config/cluster.toml")
            if overriding is not None:
                origin, source = overriding.count_origin, overriding.count_source
            counts.append(RoleCount(role, sum(service.count for service in services), origin, source, file_count))
        return counts

    def orchestration_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("orchestration")]

    def worker_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("worker")]
