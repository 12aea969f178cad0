"""The project's database, local or external: what `cluster db ...`, `start-all`, `stop` and `status` call.

Top-level imports stay free of psycopg and pydantic so that `quick_database_row` (status-quick) stays cheap; the
functions that talk to a server import what they need.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    return external_url(project, settings.port, settings.name)


def configured_database_url(project: Project) -> str | None:
    """The URL instances should use, password included: external first, else the local server's; None when mode is
    "none". ClusterError when the local server has not been created yet (its password does not exist before)."""
    settings = load_settings(project)
    if settings.mode == "none":
        return None
    found = external_url(project, settings.port, settings.name) or local_url(project, settings.port, settings.name)
    if found is None:
        raise ClusterError(
            "the project's local database has not been created yet, so it has no URL (its password is made with it)",
            "run `cluster db up` (or `cluster start-all`), then ask again",
        )
    return found


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


def _provision(server: LocalServer, name: str, announce: Announce) -> None:
    import psycopg

    from tasker_cluster.db.credentials import APP_ROLE
    from tasker_cluster.db.external import first_line
    from tasker_cluster.db.roles import provision

    try:
        converted = provision(server, name)
    except psycopg.Error as error:
        raise ClusterError(
            f"cannot set up the roles of the local database in {server.data_dir}: {first_line(error)}",
            f"read the server log {server.log_file}; the superuser must be able to log in with the password in "
            f"{server.password_file} (or, for a folder not yet converted, without one)",
        ) from None
    if converted:
        announce(
            f"converted {server.data_dir} from trust to password authentication and restarted it: role `{APP_ROLE}` "
            f"owns database `{name}`, passwords are in {server.password_file}; restart instances started before"
        )


def _install_pgmq(url: str, announce: Announce) -> None:
    from tasker_cluster.db.pgmq_install import ensure_pgmq, pgmq_version

    if ensure_pgmq(url):
        announce(f"installed PGMQ {pgmq_version()} into {redact(url)}")


def ensure_database(project: Project, announce: Announce | None = None) -> str:
    """Make the project's database usable and return its URL. Idempotent: a running server is reused.

    External (DATABASE_URL): probe it and install PGMQ if missing; it is never started. Local: initdb when needed
    (passwords generated), start, convert a folder made with trust auth (saying so), create the database owned by
    the application role, install PGMQ as that role, record DATABASE_URL (with its password) in .env.
    """
    say = announce or _silent
    settings = load_settings(project)
    if settings.mode == "none":
        raise ConfigError(
            f'the [database] mode in {project.config_file} is "none": this cluster uses no database',
            'set mode = "local" in the [database] table (or set DATABASE_URL) to use one',
        )
    external = external_url(project, settings.port, settings.name)
    if external is not None:
        from tasker_cluster.db.external import probe

        probe(external)
        _install_pgmq(external, say)
        return external
    with _exclusive(project):
        server = _server(project, settings, say)
        _bring_up(server, settings, say)
        _provision(server, settings.name, say)
        url = server.app_url(settings.name)
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
    name = str(conninfo_to_dict(url)["dbname"])
    if external is None:
        # As the superuser: the application role could not end a session someone opened as another role.
        drop_database(_server(project, load_settings(project), _silent).superuser_url("postgres"), name)
        return ensure_database(project, announce)
    admin_url = with_database(url, "postgres")
    drop_database(admin_url, name)
    create_database(admin_url, name)
    _install_pgmq(url, announce or _silent)
    return url


def database_status(project: Project) -> DatabaseStatus:
    """Everything `db status` shows; a server that is down or unreachable is a status, not an error."""
    from tasker_cluster.db.status import project_status

    return project_status(project, load_settings(project))
