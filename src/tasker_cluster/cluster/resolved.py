"""`cluster config`: the topology as every other command resolves it, like `docker compose config`.

Every instance with its port, URL, command and the environment keys it gets, and for each role's count where it
came from (a flag, the environment, .env or config/cluster.toml): what `start-all` with the same flags would run.
"""

from __future__ import annotations

import os
from typing import Any

from tasker_cluster.cluster.start import instance_env
from tasker_cluster.config.model import ClusterConfig, DatabaseSpec, Instance, ServiceSpec


def resolved_topology(config: ClusterConfig) -> dict[str, Any]:
    """The resolved topology as plain data (TOML/JSON-ready): `counts`, `database`, `services`, `instances`."""
    return {
        "counts": {
            count.role: {
                "count": count.count,
                "origin": count.origin,
                "source": count.source,
                "file_count": count.file_count,
            }
            for count in config.role_counts()
        },
        "database": _database(config.database),
        "services": {
            service.name: {
                "role": service.role,
                "count": service.count,
                "count_origin": service.count_origin,
                "base_port": service.base_port,
                "command": list(service.command),
                "probe": service.probe,
                **_probe_keys(service),
                "startup_timeout": service.startup_timeout,
                "stop_grace": service.stop_grace,
            }
            for service in config.services
        },
        "instances": [_instance(config, instance) for instance in config.instances],
    }


def _database(database: DatabaseSpec) -> dict[str, Any]:
    """What the instances' database is, as docker compose config shows only what is defined: no server and no
    port without a database (mode "none"), the URL's source rather than the unused local port for an external one."""
    if database.mode == "none":
        return {"mode": "none"}
    if database.external_url is not None:
        return {"mode": database.mode, "external": True, "external_source": database.external_source}
    return {"mode": database.mode, "port": database.port, "name": database.name, "external": False}


def _probe_keys(service: ServiceSpec) -> dict[str, Any]:
    """The keys of the service's probe kind only: paths for "http", the command for "exec"; `probe_timeout` when
    set (TOML has no null for its kind's default)."""
    timeout = {} if service.probe_timeout is None else {"probe_timeout": service.probe_timeout}
    if service.probe == "http":
        return {"health_path": service.health_path, "ready_path": service.ready_path, **timeout}
    if service.probe == "exec":
        return {"probe_command": list(service.probe_command), **timeout}
    return timeout


def _instance(config: ClusterConfig, instance: Instance) -> dict[str, Any]:
    probe: dict[str, Any] = {"ready_url": instance.ready_url} if instance.probe == "http" else {}
    if instance.probe == "exec":
        probe["probe_argv"] = list(instance.probe_command)
    return {
        "name": instance.name,
        "service": instance.service,
        "role": instance.role,
        "port": instance.port,
        "url": instance.url,
        **probe,
        "argv": list(instance.argv),
        "env": dict(instance.env),
        "env_keys": _env_keys(config, instance),
    }


def _env_keys(config: ClusterConfig, instance: Instance) -> list[str]:
    """Every variable the instance is given beyond the environment it inherits (values may be secrets, or made
    per start: the database URL, the instance token)."""
    database = None if config.database.mode == "none" else "(the database URL)"
    env = instance_env(config.project, instance, database, "(made per start)")
    return sorted(key for key, value in env.items() if os.environ.get(key) != value or key in instance.env)
