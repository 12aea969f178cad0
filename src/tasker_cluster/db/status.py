"""What `cluster db status` reports about a server it can reach: version, size, connections, PGMQ, queue depths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tasker_cluster.db.queries import query

CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True)
class ServerFacts:
    version: str
    size_bytes: int
    connections: int
    max_connections: int
    started_at: float
    pgmq_version: str | None
    queue_depths: dict[str, int]


@dataclass(frozen=True)
class DatabaseStatus:
    """The database row of `cluster status` and the body of `cluster db status [--json]`."""

    kind: str  # "local" | "external" | "none"
    external: bool
    running: bool
    url: str | None  # password masked
    database: str | None
    pid: int | None = None
    port: int | None = None
    data_dir: Path | None = None
    version: str | None = None
    size_bytes: int | None = None
    connections: int | None = None
    max_connections: int | None = None
    started_at: float | None = None
    pgmq_version: str | None = None
    queue_depths: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why facts are missing, e.g. a refused connection

    def to_json(self) -> dict[str, object]:
        document = dict(self.__dict__)
        document["data_dir"] = str(self.data_dir) if self.data_dir is not None else None
        return document


def read_server_facts(url: str) -> ServerFacts:
    """Raises psycopg.Error when the server cannot be reached or queried."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        row = conn.execute(query("server_facts")).fetchone()
        assert row is not None
        version, size_bytes, connections, max_connections, started_at = row
        pgmq_row = conn.execute(query("pgmq_version")).fetchone()
        pgmq = pgmq_row[0] if pgmq_row else None
        depths: dict[str, int] = {}
        if pgmq is not None:
            depths = {name: int(length) for name, length in conn.execute(query("queue_depths")).fetchall()}
    return ServerFacts(
        version, int(size_bytes), int(connections), int(max_connections), float(started_at), pgmq, depths
    )
