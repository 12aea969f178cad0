"""config/cluster.toml and .env -> one ClusterConfig, by named steps, read once per command and passed down.

    sources   read both files as they are               (sources.py)
    schema    check every table, defaults filled in      (schema.py)
    counts    flag > environment > .env > file           (counts.py)
    placement ports per service, instances per service   (placement.py)
    database  the [database] table, DATABASE_URL         (database.py)

Every step raises ConfigError naming the file, the key and the fix; nothing is cached between commands.
"""

from __future__ import annotations

from tasker_cluster.config.counts import resolve_counts
from tasker_cluster.config.database import with_external_server
from tasker_cluster.config.model import ClusterConfig, DatabaseSpec
from tasker_cluster.config.placement import instances_of, place_services
from tasker_cluster.config.schema import check_database, check_file
from tasker_cluster.config.sources import Sources, read_sources
from tasker_cluster.project import Project


def load_config(project: Project, *, orchestration: int | None = None, workers: int | None = None) -> ClusterConfig:
    """The project's configuration; `orchestration` and `workers` are the command line's counts (None: not given).

    ConfigError when a file is missing, unreadable or wrong.
    """
    sources = read_sources(project)
    checked = check_file(project.config_file, sources.document)
    overrides = resolve_counts(sources, {"orchestration": orchestration, "worker": workers})
    services = place_services(project.config_file, checked.services, overrides)
    return ClusterConfig(
        project=project,
        database=with_external_server(checked.database, sources.dotenv),
        services=services,
        instances=instances_of(services, project),
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
