"""The roles of a running local server: the superuser's password, the application role, the database it owns.

The application role (`tasker`) logs in with its own password, may create databases (`db reset`, bench's pgbench
database) and owns the project's database, so PGMQ's schema and the services' tables are its own; it is no superuser,
so it cannot read the server's files or run programs as the server's account (`COPY ... TO PROGRAM`). Passwords go
to the server as SCRAM verifiers computed here, so no statement or server log line ever holds one in clear.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

import psycopg
from psycopg import errors, sql

from tasker_cluster.db.authentication import METHOD, requires_passwords
from tasker_cluster.db.credentials import APP_ROLE, SUPERUSER, Credentials, generate_credentials, read_credentials
from tasker_cluster.db.scratch import create_database, with_database
from tasker_cluster.db.sql import query

if TYPE_CHECKING:
    from tasker_cluster.db.server import LocalServer

CONNECT_TIMEOUT_S = 10


def provision(server: LocalServer, database: str | None) -> bool:
    """Make a running server ready for the application role, and `database` (if any) the role's own; idempotent.

    A data folder created with trust auth (before passwords) is converted: passwords generated (or the ones a
    conversion cut short already wrote), both roles given theirs, the database and everything in it handed to the
    application role, then pg_hba.conf requires passwords and the server restarts so that it is in force when this
    returns. Nothing in the folder is lost. Returns True when it converted the folder.
    """
    converting = not requires_passwords(server.data_dir)
    if converting:
        credentials = read_credentials(server.data_dir) or generate_credentials()
        server.write_password_file(credentials)
    else:
        credentials = server.credentials()
    # Under trust the server does not ask for the password this URL carries; afterwards it does.
    with psycopg.connect(server.superuser_url("postgres"), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        if converting:
            _set_password(conn, SUPERUSER, credentials.superuser_password)
        ensure_app_role(conn, credentials, reset_password=converting)
    if database is not None:
        ensure_owned_database(server.superuser_url("postgres"), database)
    if converting:
        server.require_passwords()
        server.restart()
    return converting


def ensure_app_role(conn: psycopg.Connection, credentials: Credentials, *, reset_password: bool = False) -> None:
    """Create the application role with its password unless it exists; `reset_password` also (re)sets it."""
    if conn.execute(query("role_exists"), (APP_ROLE,)).fetchone() is None:
        statement = sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD {}")
        verifier = _verifier(conn, APP_ROLE, credentials.app_password)
        # Another `db up` on the same server (a copied data folder) may create it first.
        with suppress(errors.DuplicateObject):
            conn.execute(statement.format(sql.Identifier(APP_ROLE), sql.Literal(verifier)))
            return
    if reset_password:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(APP_ROLE)))
        _set_password(conn, APP_ROLE, credentials.app_password)


def ensure_owned_database(superuser_url: str, name: str) -> None:
    """Create `name` owned by the application role, or hand it over (with all it holds) when the superuser owns it."""
    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        row = conn.execute(query("database_owner"), (name,)).fetchone()
    if row is None:
        # Another tool may create it between our check and our CREATE.
        with suppress(errors.DuplicateDatabase):
            create_database(superuser_url, name, owner=APP_ROLE)
        return
    # A database some other role owns is that role's business; the superuser's is what trust auth left behind.
    if row[0] == SUPERUSER:
        _hand_over(with_database(superuser_url, name), name, SUPERUSER)


def _hand_over(superuser_url: str, name: str, previous_owner: str) -> None:
    with psycopg.connect(superuser_url, connect_timeout=CONNECT_TIMEOUT_S) as conn, conn.transaction():
        owner = sql.Identifier(APP_ROLE)
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), owner))
        statements = conn.execute(query("hand_over_statements"), {"from": previous_owner, "to": APP_ROLE}).fetchall()
        for (statement,) in statements:
            conn.execute(statement)


def _verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """What `\\password` in psql sends: the SCRAM verifier, computed by libpq on this side."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), METHOD.encode()).decode()


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    verifier = _verifier(conn, role, password)
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))
