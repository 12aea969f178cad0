"""The project's database, local or external: bring it up, stop it, reset it, report on it.

What `cluster db ...`, `start-all`, `stop --with-db` and the test harness call, each with the DatabaseSpec of the
configuration it loaded. Top-level imports stay free of psycopg: the functions that talk to a server import it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.db.location import choose_data_dir, existing_data_dir
from tasker_cluster.db.urls import record_local_url, redact
from tasker_cluster.errors import ClusterError, ConfigError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.db.server import LocalServer
    from tasker_cluster.db.status import DatabaseStatus

Announce = Callable[[str], None]


def _silent(_message: str) -> None:
    """The default announcer: library callers that pass none hear nothing."""


@dataclass(frozen=True)
class DatabaseReset:
    """What `reset_database` did: the URL (password included) of the recreated database, and whether the local
    server, started for the reset only, was stopped again (as it was found)."""

    url: str
    stopped_again: bool = False


def ensure_database(
    project: Project, database: DatabaseSpec, dotenv: Mapping[str, str], announce: Announce | None = None
) -> str:
    """Make the project's database usable and return its URL, password included. Idempotent: a running server is
    reused.

    External (DATABASE_URL): probe it and install PGMQ if missing; it is never started. Local: initdb when needed
    (passwords generated), start, convert a folder made with trust auth (saying so), create the database owned by
    the application role, install PGMQ as that role, record DATABASE_URL in .env (`dotenv`: .env as read).
    ConfigError for mode "none"; ClusterError when the server cannot be had.
    """
    say = announce or _silent
    _refuse_mode_none(project, database)
    if database.external_url is not None:
        from tasker_cluster.db.external import probe

        probe(database.external_url)
        _install_pgmq(database.external_url, say)
        return database.external_url
    with _exclusive(project):
        return _ensure_local(_server(project, database, say), database, project, dotenv, say)


def stop_database(project: Project, database: DatabaseSpec, *, force_external: bool = False) -> bool:
    """Stop the project's server; True when one was running and is now stopped.

    An external server is left alone (False) unless `force_external`, and then only one on this machine's loopback
    that we can shut down with pg_ctl.
    """
    if database.external_url is not None:
        from tasker_cluster.db.external import stop_external

        return stop_external(database.external_url) if force_external else False
    data_dir = existing_data_dir(project)
    if data_dir is None:
        return False
    from tasker_cluster.db.postmaster import running_postmaster

    if running_postmaster(data_dir) is None:
        return False
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.server import LocalServer

    with _exclusive(project):
        return LocalServer(find_bindir(), data_dir, database.port, database.max_connections).stop()


def reset_database(
    project: Project,
    database: DatabaseSpec,
    dotenv: Mapping[str, str],
    *,
    force_external: bool = False,
    announce: Announce | None = None,
) -> DatabaseReset:
    """Drop and recreate the project's database with PGMQ; an external one only with `force_external`.

    A local server that was not running is started for the reset and stopped again once it is done, as pg_upgrade
    leaves the servers it starts for its work: a reset after `cluster stop --with-db` must not leave a server
    running that the user had stopped (nothing of the cluster runs to need it: a reset refuses while instances do).
    """
    from tasker_cluster.db.scratch import create_database, drop_database, with_database

    say = announce or _silent
    _refuse_mode_none(project, database)
    external = database.external_url
    if external is None:
        with _exclusive(project):
            server = _server(project, database, say)
            was_running = server.is_initialized() and server.running() is not None
            url = _ensure_local(server, database, project, dotenv, say, reset=True)
            if was_running:
                return DatabaseReset(url)
            server.stop()
            say("stopped PostgreSQL again: it was not running before the reset")
            return DatabaseReset(url, stopped_again=True)
    if not force_external:
        raise ClusterError(
            f"DATABASE_URL points at an external server ({redact(external)}); reset would drop its database",
            "pass --yes to drop and recreate it anyway, or unset DATABASE_URL to reset the local database",
        )
    url = ensure_database(project, database, dotenv, say)
    admin_url = with_database(url, "postgres")
    drop_database(admin_url, _database_name(url))
    create_database(admin_url, _database_name(url))
    _install_pgmq(url, say)
    return DatabaseReset(url)


def database_status(project: Project, database: DatabaseSpec) -> DatabaseStatus:
    """Everything `db status` shows; a server that is down or unreachable is a status, not an error."""
    from tasker_cluster.db.status import project_status

    return project_status(project, database)


def _refuse_mode_none(project: Project, database: DatabaseSpec) -> None:
    if database.mode == "none":
        raise ConfigError(
            f'the [database] mode in {project.config_file} is "none": this cluster uses no database',
            'set mode = "local" in the [database] table (or set DATABASE_URL) to use one',
        )


def _database_name(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(url)["dbname"])


@contextmanager
def _exclusive(project: Project) -> Iterator[None]:
    """One `db up/down/reset` per project at a time: two racing `start-all`s must not both initdb one folder."""
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with project.database_lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server(project: Project, database: DatabaseSpec, announce: Announce) -> LocalServer:
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.server import LocalServer

    bindir = find_bindir()
    data_dir = existing_data_dir(project)
    if data_dir is None:
        data_dir, fell_back = choose_data_dir(project)
        if fell_back:
            announce(f"the postgres user cannot enter {project.root}, so the data folder is {data_dir}")
    return LocalServer(bindir, data_dir, database.port, database.max_connections)


def _bring_up(server: LocalServer, database: DatabaseSpec, announce: Announce) -> None:
    from tasker_cluster.db.server_user import running_as_root

    if not server.is_initialized():
        server.initialize()
        announce(f"created the data folder {server.data_dir}")
    running = server.running()
    if running is not None:
        if running.port != database.port:
            raise ClusterError(
                f"the local database runs on port {running.port}, but config/cluster.toml now says {database.port}",
                "run `cluster db down`, then `cluster db up` to restart it on the new port",
            )
        return
    if running_as_root():
        announce("running as root: the server runs as the `postgres` system user (PostgreSQL refuses root)")
    record = server.start()
    announce(f"started PostgreSQL on 127.0.0.1:{record.port} (pid {record.pid}), data folder {server.data_dir}")


def _ensure_local(
    server: LocalServer,
    database: DatabaseSpec,
    project: Project,
    dotenv: Mapping[str, str],
    announce: Announce,
    *,
    reset: bool = False,
) -> str:
    """The local half of `ensure_database` (and, with `reset`, of `reset_database`), under the project's lock."""
    _bring_up(server, database, announce)
    _provision(server, database.name, announce)
    if reset:
        from tasker_cluster.db.roles import ensure_owned_database
        from tasker_cluster.db.scratch import drop_database

        # As the superuser: the application role could not end a session someone opened as another role.
        drop_database(server.superuser_url("postgres"), database.name)
        ensure_owned_database(server.superuser_url("postgres"), database.name)
    url = server.app_url(database.name)
    _install_pgmq(url, announce)
    record_local_url(project.env_file, url, dotenv)
    return url


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
