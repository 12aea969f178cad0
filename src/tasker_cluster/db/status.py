"""What `cluster db status` reports about a server it can reach: version, size, connections, PGMQ, queue depths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.db.credentials import password_file
from tasker_cluster.db.external import first_line
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import PostmasterRecord, running_postmaster
from tasker_cluster.db.sql import query
from tasker_cluster.db.urls import local_url, redact
from tasker_cluster.project import Project

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
    password_file: Path | None = None  # the local server's: where its roles' passwords are kept
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
        for key in ("data_dir", "password_file"):
            document[key] = str(document[key]) if document[key] is not None else None
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


def project_status(project: Project, database: DatabaseSpec) -> DatabaseStatus:
    external = database.external_url
    data_dir = existing_data_dir(project)
    record = running_postmaster(data_dir) if data_dir is not None else None
    if external is None and database.mode == "none" and record is None:
        return DatabaseStatus(kind="none", external=False, running=False, url=None, database=None)
    if external is not None:
        return _reachable_status(external, "external", None, None)
    port = record.port if record else database.port
    url = local_url(project, port, database.name)
    if url is None:
        # No password file: no data folder yet, or one made with trust auth before passwords.
        problem = _UNCONVERTED if data_dir is not None else None
        return DatabaseStatus(
            kind="local",
            external=False,
            running=record is not None,
            url=None,
            database=database.name,
            port=port,
            data_dir=data_dir,
            pid=record.pid if record else None,
            problem=problem,
        )
    return _reachable_status(url, "local", data_dir, record)


_UNCONVERTED = (
    "the data folder has no password file (made with trust auth by an older version): `cluster db up` converts it"
)


def _reachable_status(url: str, kind: str, data_dir: Path | None, record: PostmasterRecord | None) -> DatabaseStatus:
    params = conninfo_to_dict(url)
    known = {
        "kind": kind,
        "external": kind == "external",
        "url": redact(url),
        "database": params.get("dbname"),
        "port": int(params.get("port") or 5432),
        "data_dir": data_dir,
        "password_file": password_file(data_dir) if data_dir is not None else None,
        "pid": record.pid if record else None,
    }
    if kind == "local" and record is None:
        return DatabaseStatus(running=False, **known)
    try:
        facts = read_server_facts(url)
    except psycopg.Error as error:
        # A local postmaster that refuses queries is still running; an external one we cannot reach is not known to.
        return DatabaseStatus(running=kind == "local", problem=first_line(error), **known)
    return DatabaseStatus(running=True, **known, **facts.__dict__)
