"""config/cluster.toml -> a validated Topology: named instances with their ports, commands and environment.

The file's schema and its error messages live in `topology_file` (pydantic), imported only when the topology is
not already in `topology_cache`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tasker_cluster.cluster.state import Configured
from tasker_cluster.config import cache as topology_cache
from tasker_cluster.config.placement import (
    DEFAULT_BASE_PORTS,
    RANGE_SIZE,
    ROLES,
    Overrides,
    Placement,
    Role,
    ServiceShape,
    place_services,
    resolve_role_counts,
)
from tasker_cluster.errors import ClusterError, ConfigError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.config.schema import ServiceTable, TopologyFile

LOOPBACK_URL = "http://127.0.0.1:{port}"


class DatabaseSpec(NamedTuple):
    """The `[database]` table, validated (see `db.settings.DatabaseSettings`, which checked it)."""

    mode: str
    port: int
    name: str
    max_connections: int


class ServiceSpec(NamedTuple):
    """A service type after counts are resolved and ports assigned."""

    name: str
    role: Role
    count: int
    base_port: int
    command: list[str]
    env: dict[str, str]
    health_path: str
    ready_path: str
    startup_timeout: float
    stop_grace: float


class Instance(NamedTuple):
    """One process to run: placeholders already substituted."""

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


class Topology(NamedTuple):
    config_file: Path
    database: DatabaseSpec
    services: list[ServiceSpec]
    instances: list[Instance]

    def select(self, names: Sequence[str]) -> list[Instance]:
        """Instances named, or all instances of a named service, in topology order; every unknown name is an error."""
        wanted = set(names)
        known = {instance.name for instance in self.instances} | {service.name for service in self.services}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ClusterError(
                f"unknown instance {', '.join(unknown)}",
                f"use instance or service names from {self.config_file}: {', '.join(self.names())}",
                exit_code=2,
            )
        return [i for i in self.instances if i.name in wanted or i.service in wanted]

    def names(self) -> list[str]:
        return [instance.name for instance in self.instances]

    def configured(self) -> list[Configured]:
        """The instances as the status and stop inventories list them."""
        return [Configured(i.name, i.service, i.role, i.port, i.url) for i in self.instances]

    def by_role(self, role: Role) -> list[Instance]:
        return [instance for instance in self.instances if instance.role == role]

    def orchestration_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("orchestration")]

    def worker_urls(self) -> list[str]:
        return [instance.url for instance in self.by_role("worker")]


def load_topology(project: Project, *, orchestration: int | None = None, workers: int | None = None) -> Topology:
    """Read and validate the project's topology; counts: flag > process env > project .env > file.

    Served from `topology_cache` while the file, the counts and the code are those it was validated with.
    """
    flags: dict[str, int | None] = {"orchestration": orchestration, "worker": workers}
    sources = topology_cache.current_sources(project, flags)
    if sources is not None:
        cached = topology_cache.lookup(project, sources)
        topology = _from_json(cached) if cached is not None else None
        if topology is not None:
            return topology
    topology = _validated(project, orchestration, workers, sources)
    # Stored only if nothing changed while validating, so an entry never pairs new sources with an old result.
    if sources is not None and topology_cache.current_sources(project, flags) == sources:
        topology_cache.store(project, sources, _to_json(topology))
    return topology


def _validated(
    project: Project, orchestration: int | None, workers: int | None, sources: topology_cache.Sources | None
) -> Topology:
    from tasker_cluster.config.schema import parse_topology_file

    path = project.config_file
    parsed = parse_topology_file(path, sources["config"] if sources is not None else _read_text(path))
    overrides = resolve_role_counts(project.env_file, {"orchestration": orchestration, "worker": workers})
    services = _place(path, parsed, overrides)
    instances = [instance for service in services for instance in _instances_of(service, project)]
    instances.sort(key=lambda instance: ROLES.index(instance.role))
    settings = parsed.database
    database = DatabaseSpec(settings.mode, settings.port, settings.name, settings.max_connections)
    return Topology(config_file=path, database=database, services=services, instances=instances)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"topology file {path} not found",
            "run from a project folder, pass --project-dir, or copy config/cluster.toml from the repository",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}", "make it a readable UTF-8 text file") from None


def _to_json(topology: Topology) -> dict[str, Any]:
    return {
        "config_file": str(topology.config_file),
        "database": topology.database._asdict(),
        "services": [service._asdict() for service in topology.services],
        "instances": [instance._asdict() for instance in topology.instances],
    }


def _from_json(data: dict[str, Any]) -> Topology | None:
    """The stored topology; None for an entry this code cannot read back (it is then validated afresh)."""
    try:
        return Topology(
            config_file=Path(data["config_file"]),
            database=DatabaseSpec(**data["database"]),
            services=[ServiceSpec(**service) for service in data["services"]],
            instances=[Instance(**instance) for instance in data["instances"]],
        )
    except (KeyError, TypeError):
        return None


def _place(path: Path, parsed: TopologyFile, overrides: Overrides) -> list[ServiceSpec]:
    shapes = [ServiceShape(name, table.role, table.count, table.base_port) for name, table in parsed.services.items()]
    owners: dict[int, str] = {}
    services = []
    for placement in place_services(path, shapes, overrides):
        table = parsed.services[placement.service]
        _check_range(path, placement, table.base_port)
        for name, port in zip(placement.instance_names(), _ports(placement), strict=True):
            if port in owners:
                raise ConfigError(
                    f"{path}: services.{placement.service}.base_port: port {port} of {name} "
                    f"is also given to {owners[port]}",
                    f"give each service a base_port whose {RANGE_SIZE}-port range overlaps no other service",
                )
            owners[port] = name
        services.append(_spec(placement, table))
    return services


def _ports(placement: Placement) -> range:
    return range(placement.base_port, placement.base_port + placement.count)


def _check_range(path: Path, placement: Placement, own_base: int | None) -> None:
    name = placement.service
    if own_base is None:
        low = DEFAULT_BASE_PORTS[placement.role]
        fix = f"lower the count, or give services.{name} its own base_port"
    else:
        low = own_base
        fix = f"lower the count: at most {RANGE_SIZE} instances per base_port; add another service for more"
    high = low + RANGE_SIZE - 1
    last = placement.base_port + placement.count - 1
    if placement.count and last > high:
        raise ConfigError(
            f"{path}: services.{name}.count: {placement.count} instances (from {placement.count_source}) "
            f"at ports {placement.base_port}-{last} overflow the {placement.role} range {low}-{high}",
            fix,
        )


def _spec(placement: Placement, table: ServiceTable) -> ServiceSpec:
    return ServiceSpec(
        name=placement.service,
        role=table.role,
        count=placement.count,
        base_port=placement.base_port,
        command=list(table.command),
        env=dict(table.env),
        health_path=table.health_path,
        ready_path=table.ready_path,
        startup_timeout=table.startup_timeout,
        stop_grace=table.stop_grace,
    )


def _instances_of(service: ServiceSpec, project: Project) -> list[Instance]:
    instances = []
    for index in range(1, service.count + 1):
        name = f"{service.name}-{index}"
        port = service.base_port + index - 1
        values = {"python": sys.executable, "port": port, "index": index, "name": name, "project_dir": project.root}
        instances.append(
            Instance(
                name=name,
                service=service.name,
                role=service.role,
                index=index,
                port=port,
                url=LOOPBACK_URL.format(port=port),
                argv=[arg.format_map(values) for arg in service.command],
                env={key: value.format_map(values) for key, value in service.env.items()},
                health_path=service.health_path,
                ready_path=service.ready_path,
                startup_timeout=service.startup_timeout,
                stop_grace=service.stop_grace,
            )
        )
    return instances
