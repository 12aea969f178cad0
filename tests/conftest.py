"""Fixtures for every test tier: databases, and sandbox projects on free ports.

`pg_server` is one throwaway PostgreSQL per xdist worker (or the admin URL in TASKER_TEST_DATABASE_URL, never
stopped); `database_url` is a fresh database with PGMQ per test, cloned from a template so that each test pays for a
CREATE DATABASE (~tens of ms) rather than a PGMQ install; `empty_database_url` is a fresh database without PGMQ.
The databases belong to the application role and their URLs log in as it, as the services do on `cluster db up`'s
server: no test runs the services as a superuser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.sandbox import STEERING, Sandbox
from tasker_cluster.cluster.stop import stop_instances
from tasker_cluster.db.credentials import APP_ROLE
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

EXTERNAL_SERVER_ENV = "TASKER_TEST_DATABASE_URL"
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class TestServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    __test__ = False  # not a test class, despite the name

    admin_url: str  # the superuser: creates and drops the scratch databases
    app_url: str  # the application role, which owns them (an external server's admin URL: no role of ours there)
    owner: str | None  # the role CREATE DATABASE gives them to; None: the admin itself
    external: bool

    def url_for(self, database: str) -> str:
        from tasker_cluster.db.scratch import with_database

        return with_database(self.app_url, database)

    def create_database(self, name: str, template: str | None = None) -> None:
        from tasker_cluster.db.scratch import create_database

        create_database(self.admin_url, name, template=template, owner=self.owner)


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _start_throwaway_server(root: Path):  # -> LocalServer
    from tasker_cluster.db.binaries import find_bindir
    from tasker_cluster.db.roles import provision
    from tasker_cluster.db.server import LocalServer

    bindir = find_bindir()
    initialized = None
    for attempt in range(_START_ATTEMPTS):
        # Another worker may grab the port between the check and the bind: retry on a fresh one.
        port = find_free_port_block(1)
        server = LocalServer(bindir, root / "postgres", port, max_connections=300, durable=False)
        if initialized is None:
            # Generated passwords and pg_hba.conf as `cluster db up` makes them, not trust: while the suite runs, any
            # local user could otherwise log in over TCP as the superuser.
            server.initialize()
            initialized = server
        try:
            server.start()
            provision(server, database=None)
            return server
        except ClusterError:
            if attempt == _START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TestServer]:
    external = os.environ.get(EXTERNAL_SERVER_ENV)
    if external:
        yield TestServer(admin_url=external, app_url=external, owner=None, external=True)
        return
    # /tmp rather than tmp_path: pytest's base folder is 0700 and the server runs as `postgres` when we are root.
    root = Path(tempfile.mkdtemp(prefix=f"tasker-test-pg-{_worker_id()}-"))
    os.chmod(root, 0o755)
    server = None
    try:
        server = _start_throwaway_server(root)
        admin_url = server.superuser_url("postgres")
        yield TestServer(admin_url, server.app_url("postgres"), APP_ROLE, external=False)
    finally:
        if server is not None:
            server.stop(grace_s=5)
        shutil.rmtree(root, ignore_errors=True)


def _scratch_name(kind: str) -> str:
    return f"t_{kind}_{_worker_id()}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def _pgmq_template(pg_server: TestServer) -> Iterator[str]:
    from tasker_cluster.db.pgmq_install import ensure_pgmq
    from tasker_cluster.db.scratch import drop_database

    # One template per worker: CREATE DATABASE ... TEMPLATE fails while another session uses the template.
    name = _scratch_name("tmpl")
    pg_server.create_database(name)
    try:
        ensure_pgmq(pg_server.url_for(name))
        yield name
    finally:
        drop_database(pg_server.admin_url, name)


@pytest.fixture
def database_url(pg_server: TestServer, _pgmq_template: str) -> Iterator[str]:
    """A fresh database with PGMQ installed, dropped after the test."""
    from tasker_cluster.db.scratch import drop_database

    name = _scratch_name("db")
    pg_server.create_database(name, template=_pgmq_template)
    try:
        yield pg_server.url_for(name)
    finally:
        drop_database(pg_server.admin_url, name)


@pytest.fixture
def empty_database_url(pg_server: TestServer) -> Iterator[str]:
    """A fresh database without PGMQ, dropped after the test."""
    from tasker_cluster.db.scratch import drop_database

    name = _scratch_name("empty")
    pg_server.create_database(name)
    try:
        yield pg_server.url_for(name)
    finally:
        drop_database(pg_server.admin_url, name)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A project folder of its own on free ports, steering variables unset; whatever it started is stopped after."""
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    box = Sandbox(Project(tmp_path / "project"), find_free_port_block(20))
    box.root.mkdir()
    try:
        yield box
    finally:
        stop_instances(box.project, None, timeout=1.0)
