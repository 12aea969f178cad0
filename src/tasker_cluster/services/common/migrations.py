"""Versioned schema migrations (sql/migrations/NNN_name.sql), applied at start-up by whichever instance comes first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tasker_cluster.services.common.queries import SQL_DIR, query

MIGRATIONS_DIR = SQL_DIR / "migrations"
# Any fixed 64-bit key: it only has to be the same in every instance (and differ from the PGMQ install lock).
_MIGRATION_LOCK_KEY = 0x7461736B65720002
_FILE_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS tasker;
CREATE TABLE IF NOT EXISTS tasker.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text()


def available_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a stray file name is an error, not something to skip."""
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path} is not named NNN_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations in {folder} share a version number")
    return migrations


def latest_version(folder: Path = MIGRATIONS_DIR) -> int:
    return max((m.version for m in available_migrations(folder)), default=0)


def applied_version(conn: psycopg.Connection) -> int:
    """The schema version of the database, 0 when no migration was ever applied."""
    exists = conn.execute("SELECT to_regclass('tasker.schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute(query("schema_version")).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def apply_migrations(conn: psycopg.Connection, folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply what is missing, all in one transaction; returns what this call applied.

    Instances start together, so the check and the apply run under one transaction-scoped advisory lock: the
    first takes it and migrates, the others wait, then find nothing left to do. The version check before the lock
    keeps the common case (schema already current) from queueing every instance on it.
    """
    wanted = available_migrations(folder)
    if applied_version(conn) >= max((m.version for m in wanted), default=0):
        return []
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        conn.execute(_BOOTSTRAP)
        current = applied_version(conn)
        for migration in wanted:
            if migration.version <= current:
                continue
            conn.execute(migration.sql())
            conn.execute(
                "INSERT INTO tasker.schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration)
    return applied
