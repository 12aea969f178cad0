"""The SQL in sql/queries.sql, loaded by name: Python never assembles SQL text."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
QUERIES_FILE = SQL_DIR / "queries.sql"

_HEADER = re.compile(r"^-- name: (?P<name>[a-z_][a-z0-9_]*) --$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a queries file on its `-- name: x --` headers; text before the first header is the file's preamble."""
    queries: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(text)
        name = header.group("name")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {QUERIES_FILE}")
        queries[name] = text[header.end() : end].strip()
    return queries


@cache
def _all_queries() -> dict[str, str]:
    return parse_queries(QUERIES_FILE.read_text())


def query(name: str) -> str:
    """The query called `name` in queries.sql."""
    return _all_queries()[name]


@cache
def queue_query(name: str, queue: str) -> str:
    """A query written for any queue, with `{queue_table}` bound to `queue`'s PGMQ table (quoted by psycopg).

    Such a query's text doubles its literal braces (`{{`), as `str.format` does.
    """
    composed = sql.SQL(query(name)).format(queue_table=sql.Identifier(f"q_{queue}"))  # type: ignore[arg-type]
    return composed.as_string(None)
