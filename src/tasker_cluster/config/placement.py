"""Step 4 of loading: each service's count and port range, and its instances with placeholders substituted.

Types of one role without their own base_port share the role's range in file order (worker-a 8100-8101, worker-b
8102-8103); every port belongs to one instance only.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from tasker_cluster.config.counts import CountOverride, lower_fix, split_evenly, unset_fix
from tasker_cluster.config.model import ROLES, CountOrigin, DatabaseSpec, Instance, Role, ServiceSpec
from tasker_cluster.config.schema import RANGE_SIZE, ServiceTable
from tasker_cluster.errors import ConfigError
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.project import Project

DEFAULT_BASE_PORTS: dict[Role, int] = {"orchestration": 8080, "worker": 8100}


def place_services(
    path: Path, tables: Mapping[str, ServiceTable], overrides: Mapping[Role, CountOverride | None]
) -> list[ServiceSpec]:
    """Counts and base ports in file order; ConfigError when a range overflows or two instances share a port."""
    counts = _effective_counts(path, tables, overrides)
    cursor = dict(DEFAULT_BASE_PORTS)
    owners: dict[int, str] = {}
    services = []
    for name, table in tables.items():
        count, origin, source = counts[name]
        role: Role = table.role  # type: ignore[assignment]  # checked by the schema
        base = table.base_port if table.base_port is not None else cursor[role]
        if table.base_port is None:
            cursor[role] += count
        service = _spec(name, table, count, origin, source, base)
        _check_range(path, service, table.base_port)
        for index in range(1, count + 1):
            port, instance = base + index - 1, f"{name}-{index}"
            if port in owners:
                raise ConfigError(
                    f"{path}: services.{name}.base_port: port {port} of {instance} is also given to {owners[port]}",
                    f"give each service a base_port whose {RANGE_SIZE}-port range overlaps no other service",
                )
            owners[port] = instance
        services.append(service)
    return services


def check_database_port(path: Path, database: DatabaseSpec, instances: list[Instance]) -> None:
    """ConfigError when the local database server would listen on an instance's port: one of them could never
    start. An external server (DATABASE_URL) or none at all takes no port of ours."""
    if database.mode != "local" or database.external_url is not None:
        return
    holder = next((instance for instance in instances if instance.port == database.port), None)
    if holder is not None:
        raise ConfigError(
            f"{path}: database.port: port {database.port} is also given to {holder.name}",
            f"set database.port to a port no instance uses (they use "
            f"{min(i.port for i in instances)}-{max(i.port for i in instances)}), or move services.{holder.service}",
        )


def instances_of(services: list[ServiceSpec], project: Project) -> list[Instance]:
    """Every instance, orchestration first, then workers, each role in file order."""
    instances = [
        service_instance(service, index, project) for service in services for index in range(1, service.count + 1)
    ]
    instances.sort(key=lambda instance: ROLES.index(instance.role))
    return instances


def _effective_counts(
    path: Path, tables: Mapping[str, ServiceTable], overrides: Mapping[Role, CountOverride | None]
) -> dict[str, tuple[int, CountOrigin, str]]:
    counts: dict[str, tuple[int, CountOrigin, str]] = {
        name: (table.count, "file", f"services.{name}.count") for name, table in tables.items()
    }
    for role in ROLES:
        override = overrides.get(role)
        if override is None:
            continue
        names = [name for name, table in tables.items() if table.role == role]
        if override.total and not names:
            raise ConfigError(
                f"{override.source} asks for {override.total} {role} instances but {path} defines no {role} service",
                f'add a [services.NAME] table with role = "{role}", or '
                f"{unset_fix(role, override.origin, override.source)}",
            )
        for name, share in zip(names, split_evenly(override.total, len(names)), strict=True):
            counts[name] = (share, override.origin, override.source)
    return counts


def _check_range(path: Path, service: ServiceSpec, own_base: int | None) -> None:
    """ConfigError when the service's instances overflow its port range, blaming where its count was set: the
    file's key, or the flag, variable or .env line that overrode it."""
    lower = lower_fix(service.role, service.count_origin, service.count_source)
    if own_base is None:
        low = DEFAULT_BASE_PORTS[service.role]
        fix = f"{lower}, or give services.{service.name} its own base_port"
    else:
        low = own_base
        fix = f"{lower}: at most {RANGE_SIZE} instances per base_port; add another {service.role} service for more"
    high = low + RANGE_SIZE - 1
    last = service.base_port + service.count - 1
    if not service.count or last <= high:
        return
    overflow = f"at ports {service.base_port}-{last} overflow the {service.role} range {low}-{high}"
    if service.count_origin == "file":
        raise ConfigError(f"{path}: services.{service.name}.count: {service.count} instances {overflow}", fix)
    raise ConfigError(
        f"{service.count_source}: {service.count} instances of services.{service.name} {overflow} of {path}", fix
    )


def _spec(name: str, table: ServiceTable, count: int, origin: CountOrigin, source: str, base: int) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        role=table.role,  # type: ignore[arg-type]  # checked by the schema
        count=count,
        count_origin=origin,
        count_source=source,
        base_port=base,
        command=list(table.command),
        env=dict(table.env),
        health_path=table.health_path,
        ready_path=table.ready_path,
        startup_timeout=table.startup_timeout,
        stop_grace=table.stop_grace,
        file_count=table.count,
        probe=table.probe,  # type: ignore[arg-type]  # checked by the schema
        probe_command=tuple(table.probe_command or ()),
        probe_timeout=table.probe_timeout,
    )


def _python() -> str:
    """`{python}`: this interpreter, named the same whichever of its links started us. `cluster` runs as
    `.venv/bin/python3` (its script's shebang), `python -m ...` as `.venv/bin/python`: one interpreter, one venv, and
    a running instance must not look started with another command than the topology gives it."""
    import os

    plain = os.path.join(os.path.dirname(sys.executable), "python")
    if plain != sys.executable and os.path.exists(plain) and os.path.samefile(plain, sys.executable):
        return plain
    return sys.executable


def service_instance(service: ServiceSpec, index: int, project: Project, port: int | None = None) -> Instance:
    """Instance `index` (1-based) of `service`, on its placed port unless `port` is given: an instance beyond the
    service's count keeps the port it was started on, which the placement may now give another instance."""
    name = f"{service.name}-{index}"
    port = service.base_port + index - 1 if port is None else port
    values = {"python": _python(), "port": port, "index": index, "name": name, "project_dir": project.root}
    return Instance(
        name=name,
        service=service.name,
        role=service.role,
        index=index,
        port=port,
        url=f"http://{LOOPBACK}:{port}",
        argv=[arg.format_map(values) for arg in service.command],
        env={key: value.format_map(values) for key, value in service.env.items()},
        health_path=service.health_path,
        ready_path=service.ready_path,
        startup_timeout=service.startup_timeout,
        stop_grace=service.stop_grace,
        probe=service.probe,
        probe_command=tuple(arg.format_map(values) for arg in service.probe_command),
        probe_timeout=service.probe_timeout,
    )
