"""The project's database, local or external: what `cluster db ...`, `start-all`, `stop` and `status` call.

Top-level imports stay free of psycopg and pydantic so that `quick_database_row` (status-quick) stays cheap; the
functions that talk to a server import what they need.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from tasker_cluster.db.location import choose_data_dir, existing_data_dir
from tasker_cluster.db.quick import QuickDatabaseRow, quick_database_row
from tasker_cluster.db.urls import external_url, local_url, record_local_url, redact
from tasker_cluster.errors import ClusterError, ConfigError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.config.database import DatabaseSettings
    from tasker_cluster.db.server import LocalServer
    from tasker_cluster.db.status import DatabaseStatus

__all__ = [
    "QuickDatabaseRow",
    "configured_database_url",
    "database_status",
    "ensure_database",
    "external_database_url",
    "load_settings",
    "quick_database_row",
    "reset_database",
    "stop_database",
]

Announce = Callable[[str], None]
_LOCK_FILE = "db.lock"


def _silent(_message: str) -> None:
    """The default announcer: library callers that pass none hear nothing."""


def load_settings(project: Project) -> DatabaseSettings:
    from tasker_cluster.config.database import load_database_settings

    return load_database_settings(project.config_file)


def external_database_url(project: Project) -> str | None:
    """DATABASE_URL from the environment or .env when it names a server this project did not provision."""
    settings = load_settings(project)
    if settings.mode == "none":
        return None
    return external_url(project.env_file, settings.port, settings.name)


def configured_database_url(project: Project) -> str | None:
    """The URL instances should use: external first, else the local server's; None when mode is "none"."""
    settings = load_settings(project)
    if settings.mode == "none":
        return None
    return external_url(project.env_file, settings.port, settings.name) or local_url(settings.port, settings.name)


@contextmanager
def _exclusive(project: Project) -> Iterator[None]:
    """One `db up/down/reset` per project at a time: two racing `start-all`s must not both initdb one folder."""
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with (project.state_dir / _LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server(project: Project, settings: DatabaseSettings, announce: Announce) -> LocalServer:
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.server import LocalServer

    bindir = find_bindir()
    data_dir = existing_data_dir(project)
    if data_dir is None:
        data_dir, fell_back = choose_data_dir(project)
        if fell_back:
            announce(f"the postgres user cannot enter {project.root}, so the data folder is {data_dir}")
    return LocalServer(bindir, data_dir, settings.port, settings.max_connections)


def _bring_up(server: LocalServer, settings: DatabaseSettings, announce: Announce) -> None:
    from tasker_cluster.db.server_user import running_as_root

    if not server.is_initialized():
        server.initialize()
        announce(f"created the data folder {server.data_dir}")
    running = server.running()
    if running is not None:
        if running.port != settings.port:
            raise ClusterError(
                f"the local database runs on port {running.port}, but config/cluster.toml now says {settings.port}",
                "run `cluster db down`, then `cluster db up` to restart it on the new port",
            )
        return
    if running_as_root():
        announce("running as root: the server runs as the `postgres` system user (PostgreSQL refuses root)")
    record = server.start()
    announce(f"started PostgreSQL on 127.0.0.1:{record.port} (pid {record.pid}), data folder {server.data_dir}")


def _ensure_named_database(server: LocalServer, name: str) -> None:
    from psycopg import errors

    from tasker_cluster.db.scratch import create_database, database_exists

    admin_url = server.url("postgres")
    if database_exists(admin_url, name):
        return
    # Held lock or not, another tool may create it between our check and our CREATE.
    with suppress(errors.DuplicateDatabase):
        create_database(admin_url, name)


def _install_pgmq(url: str, announce: Announce) -> None:
    from tasker_cluster.db.pgmq_install import ensure_pgmq, pgmq_version

    if ensure_pgmq(url):
        announce(f"installed PGMQ {pgmq_version()} into {redact(url)}")


def ensure_database(project: Project, announce: Announce | None = None) -> str:
    """Make the project's database usable and return its URL. Idempotent: a running server is reused.

    External (DATABASE_URL): probe it and install PGMQ if missing; it is never started. Local: initdb when needed,
    start, create the database, install PGMQ, record DATABASE_URL in .env.
    """
    say = announce or _silent
    settings = load_settings(project)
    if settings.mode == "none":
        raise ConfigError(
            f'the [database] mode in {project.config_file} is "none": this cluster uses no database',
            'set mode = "local" in the [database] table (or set DATABASE_URL) to use one',
        )
    external = external_url(project.env_file, settings.port, settings.name)
    if external is not None:
        from tasker_cluster.db.external import probe

        probe(external)
        _install_pgmq(external, say)
        return external
    with _exclusive(project):
        server = _server(project, settings, say)
        _bring_up(server, settings, say)
        _ensure_named_database(server, settings.name)
        url = server.url(settings.name)
        _install_pgmq(url, say)
        record_local_url(project.env_file, url)
    return url


def stop_database(project: Project, *, force_external: bool = False) -> bool:
    """Stop the project's server; True when one was running and is now stopped.

    An external server is left alone (False) unless `force_external`, and then only one on this machine's loopback
    that we can shut down with pg_ctl.
    """
    external = external_database_url(project)
    if external is not None:
        from tasker_cluster.db.external import stop_external

        return stop_external(external) if force_external else False
    data_dir = existing_data_dir(project)
    if data_dir is None:
        return False
    from tasker_cluster.db.postmaster import running_postmaster

    if running_postmaster(data_dir) is None:
        return False
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.server import LocalServer

    settings = load_settings(project)
    with _exclusive(project):
        return LocalServer(find_bindir(), data_dir, settings.port, settings.max_connections).stop()


def reset_database(project: Project, *, force_external: bool = False, announce: Announce | None = None) -> str:
    """Drop and recreate the project's database with PGMQ; an external one only with `force_external`."""
    from psycopg.conninfo import conninfo_to_dict

    from tasker_cluster.db.scratch import create_database, drop_database, with_database

    external = external_database_url(project)
    if external is not None and not force_external:
        raise ClusterError(
            f"DATABASE_URL points at an external server ({redact(external)}); reset would drop its database",
            "pass --yes to drop and recreate it anyway, or unset DATABASE_URL to reset the local database",
        )
    url = ensure_database(project, announce)
    name = conninfo_to_dict(url)["dbname"]
    admin_url = with_database(url, "postgres")
    drop_database(admin_url, str(name))
    create_database(admin_url, str(name))
    _install_pgmq(url, announce or _silent)
    return url


def database_status(project: Project) -> DatabaseStatus:
    """Everything `db status` shows; a server that is down or unreachable is a status, not an error."""
    from tasker_cluster.db.status import project_status

    return project_status(project, load_settings(project))
