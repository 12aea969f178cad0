"""The configuration as a compose file (the compose specification): one service per instance, plus PostgreSQL.

One service per instance rather than one service with `replicas`: every instance keeps its name (the records'
`created_by` / `processed_by` stay meaningful) and its own published port, where a scaled service that publishes a
port clashes on the host. Ports are published on 127.0.0.1 only, at the instance's local port.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tasker_cluster.config.model import ClusterConfig, Instance, ServiceSpec
from tasker_cluster.db.credentials import APP_ROLE
from tasker_cluster.proc.probes import request_target

from .environment import (
    BIND_ADDRESS,
    CONTAINER_BIND_ADDRESS,
    DATABASE_URL,
    INSTANCE_ID,
    INSTANCE_PORT,
    PROJECT_DIR,
    check_image,
    service_environment,
)
from .placeholders import IMAGE_PROJECT_DIR, IMAGE_PYTHON, substitute

DATABASE_SERVICE = "database"
DATABASE_VOLUME = "database"
# The official image's data folder up to PostgreSQL 17; its entry point creates POSTGRES_DB on first start.
DATABASE_IMAGE = "docker.io/library/postgres:17"
DATABASE_DATA = "/var/lib/postgresql/data"
DATABASE_SUPERUSER = "postgres"
DATABASE_PORT = 5432
# The image runs what this folder holds once, on the first start; the export writes the application role's script.
INITDB_FOLDER = "initdb"
_INITDB_MOUNT = "/docker-entrypoint-initdb.d"
# Compose reads both from the `.env` beside the file; libpq reads PGPASSWORD, so the URL never holds one. The
# superuser's is the image's own setting, for an administrator; the instances log in as the application role.
PASSWORD_VARIABLE = "POSTGRES_PASSWORD"
APP_PASSWORD_VARIABLE = "TASKER_DATABASE_PASSWORD"
_APP_ROLE_VARIABLE = "TASKER_DATABASE_ROLE"


def _password(variable: str) -> str:
    return f"${{{variable}:?set {variable} in the .env file beside compose.yaml}}"


_RESERVED = {INSTANCE_ID, INSTANCE_PORT, BIND_ADDRESS, PROJECT_DIR, DATABASE_URL, "PGPASSWORD"}
_HEALTHCHECK_INTERVAL_S = 5
_HEALTHCHECK_TIMEOUT_S = 4
# The check's own connect/read timeout, inside the healthcheck's: a refusal or silence is its exit 1, not a kill.
_CHECK_SOCKET_TIMEOUT_S = 3
_HEALTHCHECK_RETRIES = 3


class ComposeOptions(NamedTuple):
    image: str
    project_name: str
    database_image: str = DATABASE_IMAGE


def compose_document(config: ClusterConfig, options: ComposeOptions) -> dict[str, Any]:
    """The compose file as plain data: `services` (the database first, then every instance in configuration order),
    and the database's volume. ConfigError for an option that is not an image reference."""
    check_image(options.image, "--image")
    uses_database = config.database.mode == "local"
    services: dict[str, Any] = {}
    if uses_database:
        database_image = check_image(options.database_image, "--database-image")
        services[DATABASE_SERVICE] = _database_service(config, database_image)
    specs = {service.name: service for service in config.services}
    for instance in config.instances:
        services[instance.name] = _instance_service(specs[instance.service], instance, options.image, config)
    document: dict[str, Any] = {"name": options.project_name, "services": services}
    if uses_database:
        document["volumes"] = {DATABASE_VOLUME: {}}
    return document


def database_url_inside(config: ClusterConfig) -> str:
    """DATABASE_URL as the instances see it: the application role at the database service, the password from
    PGPASSWORD."""
    return f"postgresql://{APP_ROLE}@{DATABASE_SERVICE}:{DATABASE_PORT}/{config.database.name}"


def _instance_service(service: ServiceSpec, instance: Instance, image: str, config: ClusterConfig) -> dict[str, Any]:
    values = {
        "python": IMAGE_PYTHON,
        "port": str(service.base_port),
        "index": str(instance.index),
        "name": instance.name,
        "project_dir": IMAGE_PROJECT_DIR,
    }
    environment = service_environment(service, values, _escape, _RESERVED)
    environment.update(
        {
            INSTANCE_ID: instance.name,
            INSTANCE_PORT: str(service.base_port),
            BIND_ADDRESS: CONTAINER_BIND_ADDRESS,
            PROJECT_DIR: IMAGE_PROJECT_DIR,
        }
    )
    entry: dict[str, Any] = {
        "image": image,
        "command": [substitute(arg, values, _escape) for arg in service.command],
        "environment": environment,
        "ports": [f"127.0.0.1:{instance.port}:{service.base_port}"],
        **_healthcheck(service, values),
        "stop_grace_period": _duration(service.stop_grace),
        "restart": "on-failure",
    }
    if config.database.mode == "local":
        environment[DATABASE_URL] = database_url_inside(config)
        environment["PGPASSWORD"] = _password(APP_PASSWORD_VARIABLE)
        entry["depends_on"] = {DATABASE_SERVICE: {"condition": "service_healthy"}}
    return entry


def _database_service(config: ClusterConfig, image: str) -> dict[str, Any]:
    database = config.database
    return {
        "image": image,
        "command": ["postgres", "-c", f"max_connections={database.max_connections}"],
        "environment": {
            "POSTGRES_DB": database.name,
            "POSTGRES_USER": DATABASE_SUPERUSER,
            PASSWORD_VARIABLE: _password(PASSWORD_VARIABLE),
            _APP_ROLE_VARIABLE: APP_ROLE,
            APP_PASSWORD_VARIABLE: _password(APP_PASSWORD_VARIABLE),
            # SQL_ASCII would hand text back as bytes: the services refuse it (see /health/ready).
            "POSTGRES_INITDB_ARGS": "--encoding=UTF8",
        },
        "ports": [f"127.0.0.1:{database.port}:{DATABASE_PORT}"],
        "volumes": [f"{DATABASE_VOLUME}:{DATABASE_DATA}", f"./{INITDB_FOLDER}:{_INITDB_MOUNT}:ro"],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "--username", DATABASE_SUPERUSER, "--dbname", database.name],
            "interval": _duration(2),
            "timeout": _duration(_HEALTHCHECK_TIMEOUT_S),
            "retries": 15,
        },
        "restart": "on-failure",
    }


def _healthcheck(service: ServiceSpec, values: dict[str, str]) -> dict[str, Any]:
    """The instance's healthcheck by its probe kind, as a `test` argv run inside the image; "none" has none, as a
    compose service without one (it counts as started once it runs). Its `timeout` is the service's
    `probe_timeout`, which then bounds the check's own socket too."""
    if service.probe == "none":
        return {}
    socket_timeout = service.probe_timeout or _CHECK_SOCKET_TIMEOUT_S
    if service.probe == "exec":
        test = [substitute(arg, values, _escape) for arg in service.probe_command]
    elif service.probe == "tcp":
        test = [IMAGE_PYTHON, "-c", _tcp_check(service.base_port, socket_timeout)]
    else:
        test = [IMAGE_PYTHON, "-c", _escape(_http_check(service.base_port, service.ready_path, socket_timeout))]
    return {
        "healthcheck": {
            "test": ["CMD", *test],
            "interval": _duration(_HEALTHCHECK_INTERVAL_S),
            "timeout": _duration(service.probe_timeout or _HEALTHCHECK_TIMEOUT_S),
            "retries": _HEALTHCHECK_RETRIES,
            "start_period": _duration(service.startup_timeout),
        }
    }


def _tcp_check(port: int, timeout: float) -> str:
    """A TCP healthcheck in the image's Python (images may lack nc): a refused connect raises (exit 1)."""
    return f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout={timeout:g}).close()"


def _http_check(port: int, path: str, timeout: float) -> str:
    """A healthcheck in the image's Python: images may lack curl, and an HTTP error status raises (exit 1)."""
    url = f"http://127.0.0.1:{port}{request_target(path)}"
    return f"import urllib.request; urllib.request.urlopen({url!r}, timeout={timeout:g})"


def _escape(text: str) -> str:
    # Compose interpolates `$VAR` in every value; a literal `$` is written `$$`.
    return text.replace("$", "$$")


def _duration(seconds: float) -> str:
    return f"{seconds:g}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"
