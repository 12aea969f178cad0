"""The database layer's SQL, in queries.sql beside this module, looked up by name."""

from __future__ import annotations

from pathlib import Path

from tasker_cluster.named_queries import QueryFile

_QUERIES = QueryFile(Path(__file__).with_name("queries.sql"))


def query(name: str) -> str:
    return _QUERIES.query(name)
