"""config/cluster.toml -> a validated Topology: named instances with their ports, commands and environment."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tasker_cluster.db.settings import DatabaseSettings
from tasker_cluster.errors import ClusterError, ConfigError
from tasker_cluster.inventory import Configured
from tasker_cluster.layout import (
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
from tasker_cluster.project import Project

PLACEHOLDERS = ("python", "port", "index", "name", "project_dir")
LOOPBACK_URL = "http://127.0.0.1:{port}"

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")]
UrlPath = Annotated[str, StringConstraints(pattern=r"^/")]


class ServiceTable(BaseModel):
    """One `[services.NAME]` table as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    role: Role
    count: int = Field(ge=0)
    base_port: int | None = Field(None, ge=1024, le=65536 - RANGE_SIZE)
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    health_path: UrlPath = "/health"
    ready_path: UrlPath = "/health/ready"
    startup_timeout: float = Field(30.0, gt=0)
    stop_grace: float = Field(10.0, gt=0)


class TopologyFile(BaseModel):
    """The whole file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    services: dict[ServiceName, ServiceTable] = Field(min_length=1)


@dataclass(frozen=True)
class ServiceSpec:
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


@dataclass(frozen=True)
class Instance:
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


@dataclass(frozen=True)
class Topology:
    config_file: Path
    database: DatabaseSettings
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
    """Read and validate the project's topology; counts: flag > process env > project .env > file."""
    path = project.config_file
    parsed = _validate(path, _read_toml(path))
    _check_placeholders(path, parsed)
    overrides = resolve_role_counts(project.env_file, {"orchestration": orchestration, "worker": workers})
    services = _place(path, parsed, overrides)
    instances = [instance for service in services for instance in _instances_of(service, project)]
    instances.sort(key=lambda instance: ROLES.index(instance.role))
    return Topology(config_file=path, database=parsed.database, services=services, instances=instances)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(
            f"topology file {path} not found",
            "run from a project folder, pass --project-dir, or copy config/cluster.toml from the repository",
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}", "fix the syntax at the line and column named") from None


def _validate(path: Path, data: dict[str, Any]) -> TopologyFile:
    try:
        return TopologyFile.model_validate(data)
    except ValidationError as error:
        raise _config_error(path, error) from None


def _config_error(path: Path, error: ValidationError) -> ConfigError:
    problems = error.errors(include_url=False)
    lines = [f"{_key_path(problem['loc'])}: {_describe(problem)}" for problem in problems]
    if len(lines) == 1:
        return ConfigError(f"{path}: {lines[0]}", _fix_for(problems[0]))
    listed = "\n  ".join(lines)
    return ConfigError(f"{path} has {len(lines)} problems:\n  {listed}", "correct each key listed above")


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(problem: Mapping[str, Any]) -> str:
    if problem["type"] == "extra_forbidden":
        return "unknown key"
    if problem["type"] == "missing":
        return "required key missing"
    return str(problem["msg"])


def _fix_for(problem: Mapping[str, Any]) -> str:
    key = _key_path(problem["loc"])
    if problem["type"] == "extra_forbidden":
        table = key.rpartition(".")[0] or "the top level"
        valid = _valid_keys(problem["loc"][:-1])
        return f"remove `{key}` or correct its spelling; {table} accepts: {', '.join(valid)}"
    if problem["type"] == "missing":
        return f"add `{key}` (see the comments in config/cluster.toml)"
    if problem["loc"][:1] == ("services",) and "[key]" in problem["loc"]:
        return "name services in lower case letters and digits separated by single dashes, e.g. worker-a"
    return f"correct `{key}` (see the comments in config/cluster.toml)"


def _valid_keys(table_loc: tuple[int | str, ...]) -> list[str]:
    if not table_loc:
        return list(TopologyFile.model_fields)
    if table_loc == ("database",):
        return list(DatabaseSettings.model_fields)
    return list(ServiceTable.model_fields)


def _check_placeholders(path: Path, parsed: TopologyFile) -> None:
    for name, table in parsed.services.items():
        values = [(f"services.{name}.command[{i}]", arg) for i, arg in enumerate(table.command)]
        values += [(f"services.{name}.env.{key}", value) for key, value in table.env.items()]
        for key, value in values:
            _check_template(path, key, value)


def _check_template(path: Path, key: str, template: str) -> None:
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, _, _ in Formatter().parse(template) if field is not None]
    except ValueError as error:
        raise ConfigError(
            f"{path}: {key}: bad placeholder syntax in {template!r} ({error})",
            f"placeholders are {allowed}; write {{{{ and }}}} for literal braces",
        ) from None
    for field in fields:
        if field not in PLACEHOLDERS:
            raise ConfigError(
                f"{path}: {key}: unknown placeholder {{{field}}} in {template!r}",
                f"use one of {allowed}; write {{{{ and }}}} for literal braces",
            )


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
