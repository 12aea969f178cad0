"""SQL files of named queries, shared by the database layer (`db/queries.sql`) and the services (`services/sql/`).

Each query sits under a `-- name: NAME --` header, its description in the comment lines that follow; text before
the first header is the file's preamble. Python never assembles SQL text: it asks for a query by name.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

_HEADER = re.compile(r"^-- name: (?P<name>[a-z_][a-z0-9_]*) --$", re.MULTILINE)


def parse_queries(text: str, source: str = "the queries file") -> dict[str, str]:
    """{name: query} from a file's text; ValueError when a name is defined twice."""
    queries: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(text)
        name = header.group("name")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {source}")
        queries[name] = text[header.end() : end].strip()
    return queries


class QueryFile:
    """One file of named queries, read and parsed at the first lookup."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def queries(self) -> dict[str, str]:
        return parse_queries(self.path.read_text(encoding="utf-8"), str(self.path))

    def query(self, name: str) -> str:
        """The query called `name`; KeyError when the file defines none."""
        return self.queries[name]
