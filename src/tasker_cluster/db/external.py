"""A server this project did not provision, named by DATABASE_URL: probing it and, only when asked, stopping it."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tasker_cluster.db.sql import query
from tasker_cluster.db.urls import redact
from tasker_cluster.errors import ClusterError

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CONNECT_TIMEOUT_S = 5


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def probe(url: str) -> None:
    """Connect once; ClusterError with the server's own reason when that fails."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S):
            pass
    except psycopg.Error as error:
        raise ClusterError(
            f"cannot connect to the external database {redact(url)}: {first_line(error)}",
            "start that server or correct DATABASE_URL (environment or .env); "
            "unset it to let the project run its own local PostgreSQL",
        ) from None


def stop_external(url: str) -> bool:
    """Shut down a loopback server known only by its URL: ask it for its data folder, then pg_ctl stop that folder.

    False when it is not running. Only for an explicit `--yes`: this server belongs to someone else.
    """
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.server import LocalServer

    params = conninfo_to_dict(url)
    host = str(params.get("host", "localhost"))
    if host not in _LOOPBACK_HOSTS:
        raise ClusterError(
            f"DATABASE_URL points at {host}, another machine: this command cannot stop it",
            "stop that server where it runs",
        )
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute(query("data_directory")).fetchone()
    except psycopg.OperationalError:
        return False
    except psycopg.Error as error:
        raise ClusterError(
            f"cannot find the data folder of {redact(url)}: {first_line(error)}",
            "put a superuser in DATABASE_URL, or stop that server with its own tools",
        ) from None
    assert row is not None
    return LocalServer(find_bindir(), Path(row[0]), int(params.get("port") or 5432)).stop()
