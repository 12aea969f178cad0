"""config/cluster.toml and .env -> one ClusterConfig, by named steps, read once per command and passed down.

    sources   read both files as they are               (sources.py)
    schema    check every table, defaults filled in      (schema.py)
    counts    flag > environment > .env > file           (counts.py)
    placement ports per service, instances per service   (placement.py)
    database  the [database] table, DATABASE_URL         (database.py)
    ports     the local database's port is no instance's (placement.py)

Every step raises ConfigError naming the file, the key and the fix; nothing is cached between commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from tasker_cluster.config.counts import resolve_counts
from tasker_cluster.config.database import with_external_server
from tasker_cluster.config.model import ClusterConfig, DatabaseSpec
from tasker_cluster.config.placement import check_database_port, instances_of, place_services
from tasker_cluster.config.schema import check_database, check_file
from tasker_cluster.config.sources import Sources, read_sources
from tasker_cluster.errors import ConfigError
from tasker_cluster.project import Project


def load_config(project: Project, *, orchestration: int | None = None, workers: int | None = None) -> ClusterConfig:
    """The project's configuration; `orchestration` and `workers` are the command line's counts (None: not given).

    ConfigError when a file is missing, unreadable or wrong.
    """
    return _config_from(read_sources(project), orchestration, workers)


def _config_from(sources: Sources, orchestration: int | None, workers: int | None) -> ClusterConfig:
    project = sources.project
    checked = check_file(project.config_file, sources.document)
    overrides = resolve_counts(sources, {"orchestration": orchestration, "worker": workers})
    services = place_services(project.config_file, checked.services, overrides)
    database = with_external_server(checked.database, sources.dotenv)
    instances = instances_of(services, project)
    check_database_port(project.config_file, database, instances)
    return ClusterConfig(
        project=project,
        database=database,
        services=services,
        instances=instances,
        dotenv=sources.dotenv,
        logs=checked.logs,
    )


def load_database_config(project: Project) -> DatabaseSpec:
    """The `[database]` table alone, for the `db` commands: defaults when config/cluster.toml is absent, and a
    mistake elsewhere in the file does not keep the database from being managed."""
    return database_config(read_sources(project, config_required=False))


def database_config(sources: Sources) -> DatabaseSpec:
    """`load_database_config` from sources already read (a command that also needs .env's values)."""
    return with_external_server(check_database(sources.project.config_file, sources.document), sources.dotenv)


class Lenient(NamedTuple):
    """What a command that can do without the configuration has of it: the configuration, or None and the error
    that keeps it from being read; the `[database]` table, or the error that keeps it from being known."""

    config: ClusterConfig | None
    database: DatabaseSpec | ConfigError
    error: ConfigError | None


def load_config_leniently(project: Project) -> Lenient:
    """The configuration for commands the PID records suffice for (status, status-quick, stop): a broken one is
    reported by them, not fatal. The database then comes from its table alone, when that can be read (the
    defaults when the file is missing). Each file is still read at most once."""
    try:
        sources = read_sources(project)
    except ConfigError as error:
        if project.config_file.exists():
            # Unreadable, or not TOML: no table of it can be read.
            return Lenient(None, error, error)
        return Lenient(None, _database_or_error(lambda: load_database_config(project)), error)
    try:
        config = _config_from(sources, None, None)
    except ConfigError as error:
        return Lenient(None, _database_or_error(lambda: database_config(sources)), error)
    return Lenient(config, config.database, None)


def _database_or_error(load: Callable[[], DatabaseSpec]) -> DatabaseSpec | ConfigError:
    try:
        return load()
    except ConfigError as error:
        return error
