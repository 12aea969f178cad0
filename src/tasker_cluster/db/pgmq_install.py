"""Install PGMQ's SQL into a database exactly once, however many processes try at the same moment."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tasker_cluster.db.sql import query

# Any fixed 64-bit key works; it only has to be the same for every process that installs PGMQ.
_INSTALL_LOCK_KEY = 0x7461736B65720001


def pgmq_installed(conn: psycopg.Connection) -> bool:
    return conn.execute(query("pgmq_installed")).fetchone() is not None


def ensure_pgmq(conninfo: str) -> bool:
    """Install PGMQ unless present; True when this call installed it.

    The SQL script fails when run twice, so the check and the install happen under one transaction-scoped advisory
    lock: racing installers queue on the lock, and each one after the first sees the schema and does nothing.
    """
    from pgmq.install import get_embedded_install_sql

    with psycopg.connect(conninfo, autocommit=True) as conn:
        if pgmq_installed(conn):
            return False
        with conn.transaction():
            conn.execute(query("install_lock"), (_INSTALL_LOCK_KEY,))
            if pgmq_installed(conn):
                return False
            conn.execute(get_embedded_install_sql())
            # A SQL install has no pg_extension row: the schema comment is where `db status` finds the version.
            note = f"PGMQ {pgmq_version()}, installed from SQL by tasker-cluster"
            conn.execute(sql.SQL("COMMENT ON SCHEMA pgmq IS {}").format(sql.Literal(note)))
        return True


def pgmq_version() -> str:
    """The PGMQ version whose SQL this package installs."""
    from pgmq.install import get_embedded_sql_version

    return get_embedded_sql_version()
