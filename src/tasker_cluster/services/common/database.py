"""The service's database: the start-up check, PGMQ and the schema, the connection pool, retried transactions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import PoolTimeout

from tasker_cluster.db.pgmq_install import ensure_pgmq, pgmq_installed
from tasker_cluster.errors import ClusterError
from tasker_cluster.services.common.availability import Availability, DatabaseUnavailable, cause
from tasker_cluster.services.common.migrations import apply_migrations
from tasker_cluster.services.common.pool import ServicePool
from tasker_cluster.services.common.queries import query
from tasker_cluster.services.common.settings import ServiceSettings

log = logging.getLogger("tasker.database")
T = TypeVar("T")

_CONNECT_TIMEOUT_S = 3
_FIRST_RETRY_PAUSE_S, _MAX_RETRY_PAUSE_S = 0.1, 2.0
# Deadlocks cannot always be ruled out by lock ordering (a worker's batch claim and a cancel touch the same steps
# in whatever order each plan visits them); PostgreSQL breaks them by aborting one side, which simply runs again.
_RETRIABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
_TRANSACTION_ATTEMPTS = 5
# SQLSTATE classes of a connection the server ended: 57P (operator intervention: pg_terminate_backend, a shutdown
# or crash) and 08 (connection exception).
_CONNECTION_ENDED = ("57P", "08")
# A failover or a proxy restart ends every session, one after the other: the connection a retry takes may be the
# next to go, so one retry is not always enough (a test saw 1 request in 40 fail with one).
RECONNECTS = 3


def require_database_url(settings: ServiceSettings) -> str:
    if not settings.database_url:
        raise ClusterError(
            "DATABASE_URL is not set",
            "start the database with `cluster db up` and the instance with `cluster start`, "
            "or set DATABASE_URL (or pass --database-url)",
        )
    return settings.database_url


def describe_database(url: str) -> str:
    """host:port/dbname of a connection string, without credentials, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparseable DATABASE_URL)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def session_conninfo(settings: ServiceSettings) -> str:
    """The connection string every service connection uses: it names the instance to the database.

    `tasker.instance` is what the transition triggers record as the instance that made each change; UTC makes
    the JSON timestamps every instance returns byte-identical.
    """
    url = require_database_url(settings)
    try:
        existing = conninfo_to_dict(url).get("options") or ""
    except psycopg.ProgrammingError as error:
        raise ClusterError(
            f"DATABASE_URL is not a valid connection string: {cause(error)}", "correct DATABASE_URL"
        ) from error
    options = f"{existing} -c tasker.instance={settings.name} -c timezone=UTC".strip()
    return make_conninfo(url, options=options, application_name=settings.name)


def prepare_database(settings: ServiceSettings, queues: Sequence[str]) -> None:
    """Wait for the database (up to the start-up timeout), check its encoding, install PGMQ and apply migrations if
    needed, create the queues.

    Raises ClusterError when the database does not answer in time, and UnusableDatabase when it answers but must
    not be used (the instance then stays up to say why on /health/ready).
    """
    conninfo = session_conninfo(settings)
    where = describe_database(conninfo)
    conn = connect_when_up(conninfo, where, settings.startup_timeout)
    try:
        with conn:
            _check_encoding(conn, where)
            # Checked here first because importing PGMQ's installer costs start-up time it rarely needs.
            if not pgmq_installed(conn):
                ensure_pgmq(conninfo)
            applied = apply_migrations(conn)
            for migration in applied:
                log.info("applied migration %03d_%s", migration.version, migration.name)
            conn.execute(query("ensure_queues"), {"queues": list(queues)})
    except psycopg.Error as error:
        raise ClusterError(
            f"cannot prepare the database at {where}: {cause(error)}",
            "check that DATABASE_URL names a database this user may create schemas in",
        ) from error


def connect_when_up(
    conninfo: str,
    where: str,
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> psycopg.Connection[Any]:
    """A connection, retried with backoff while the database does not answer (a container or pod that starts
    before its database would otherwise crash-loop); each failed attempt is logged with its reason.

    ClusterError once `timeout` seconds have passed without a connection.
    """
    deadline = clock() + timeout
    pause = _FIRST_RETRY_PAUSE_S
    while True:
        try:
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as error:
            left = deadline - clock()
            if left <= 0:
                raise ClusterError(
                    f"cannot connect to the database at {where} "
                    f"(waited {timeout:g} s, the start-up timeout): {cause(error)}",
                    "start it with `cluster db up`, or set DATABASE_URL to a running PostgreSQL",
                ) from error
            wait = min(pause, left)
            log.warning(
                "waiting for the database at %s: %s; next attempt in %.1f s (%.1f s left of the start-up timeout)",
                where,
                cause(error),
                wait,
                left,
            )
            sleep(wait)
            pause = min(pause * 2, _MAX_RETRY_PAUSE_S)


class UnusableDatabase(ClusterError):
    """The database answers but must not be used as it is; the message names why and the fix."""


def _check_encoding(conn: psycopg.Connection[Any], where: str) -> None:
    # Under SQL_ASCII, psycopg hands text columns back as bytes, which breaks every response that carries text.
    encoding = conn.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        raise UnusableDatabase(
            f"the database at {where} has encoding {encoding}, not UTF8 (text would come back as raw bytes)",
            "create the database with ENCODING 'UTF8' (initdb --encoding=UTF8, or POSTGRES_INITDB_ARGS=--encoding=UTF8 "
            "for the official image) and point DATABASE_URL at it",
        )


def create_pool(settings: ServiceSettings, availability: Availability) -> ServicePool:
    return ServicePool(
        session_conninfo(settings),
        availability,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        kwargs={"autocommit": True},
        open=False,
        name=settings.name,
        timeout=settings.pool_timeout,
    )


def connection_ended(error: BaseException) -> bool:
    """The server ended the connection under a statement (its backend was terminated, the server crashed or shuts
    down), as opposed to refusing the statement itself, or to the database being known down."""
    if not isinstance(error, psycopg.OperationalError) or isinstance(error, DatabaseUnavailable | PoolTimeout):
        return False
    return error.sqlstate is None or error.sqlstate.startswith(_CONNECTION_ENDED)


async def retry_transaction(operation: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `operation` (which takes its own connection and opens its own transaction) again when PostgreSQL aborted
    it to break a deadlock, and when the server ended its connection under it (up to RECONNECTS times).

    A transaction whose connection ended was rolled back with it, and every operation run here is safe to repeat
    even in the rare case where its commit went through and only the answer was lost: each change is guarded
    (compare-and-set), and a task is created under the UUID chosen before the first try."""
    attempt, reconnects = 1, 0
    while True:
        try:
            return await operation()
        except _RETRIABLE as error:
            if attempt == _TRANSACTION_ATTEMPTS:
                raise
            log.warning("%s: %s, running it again (attempt %d)", what, type(error).__name__, attempt + 1)
            await asyncio.sleep(0.01 * attempt)
            attempt += 1
        except psycopg.OperationalError as error:
            if reconnects == RECONNECTS or not connection_ended(error):
                raise
            reconnects += 1
            log.warning("%s: the server ended the connection (%s), running it again", what, cause(error))
