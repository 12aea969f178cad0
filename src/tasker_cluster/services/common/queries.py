"""The SQL in sql/queries.sql, loaded by name: Python never assembles SQL text."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

from tasker_cluster.named_queries import QueryFile, parse_queries

__all__ = ["QUERIES_FILE", "SQL_DIR", "parse_queries", "query", "queue_query"]

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
QUERIES_FILE = SQL_DIR / "queries.sql"
_QUERIES = QueryFile(QUERIES_FILE)


def query(name: str) -> str:
    """The query called `name` in queries.sql."""
    return _QUERIES.query(name)


@cache
def queue_query(name: str, queue: str) -> str:
    """A query written for any queue, with `{queue_table}` bound to `queue`'s PGMQ table (quoted by psycopg).

    Such a query's text doubles its literal braces (`{{`), as `str.format` does.
    """
    composed = sql.SQL(query(name)).format(queue_table=sql.Identifier(f"q_{queue}"))  # type: ignore[arg-type]
    return composed.as_string(None)
