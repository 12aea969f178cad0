"""Fixtures that run the reference services as real processes on free ports, against a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_instances import ServicePair, ServiceProcess, spawn_service


@pytest.fixture(scope="module")
def migrated_database_url(pg_server: Any, _pgmq_template: str) -> Iterator[str]:
    """One database per test module with the services' schema and queues; tests keep to their own tasks."""
    from tasker_cluster.db.scratch import drop_database
    from tasker_cluster.services.common.database import prepare_database
    from tasker_cluster.services.common.queues import RESULTS_QUEUE, step_queue
    from tasker_cluster.services.common.settings import ServiceSettings

    name = f"t_services_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=_pgmq_template)
    url = pg_server.url_for(name)
    try:
        prepare_database(
            ServiceSettings(role="worker", name="tests", port=1, database_url=url),
            [step_queue("examples"), RESULTS_QUEUE],
        )
        yield url
    finally:
        drop_database(pg_server.admin_url, name)


@pytest.fixture
def service_pair(database_url: str, tmp_path: Path) -> Iterator[ServicePair]:
    """One orchestration and one worker, started together, stopped with SIGTERM; each must exit 0."""
    orchestration = spawn_service("orchestration", "orchestration-1", database_url, tmp_path)
    worker = spawn_service("worker", "worker-1", database_url, tmp_path, ["--visibility-timeout", "2"])
    started = [orchestration, worker]
    try:
        for instance in started:
            instance.wait_ready()
        yield ServicePair(orchestration, worker, database_url)
    finally:
        codes = {instance.name: instance.terminate() for instance in started if instance.stopped_with is None}
    assert all(code == 0 for code in codes.values()), f"exit codes after SIGTERM: {codes}"


@pytest.fixture(scope="module")
def orchestration(migrated_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One orchestration instance (no worker: its tasks stay steps_in_process) for a whole module's API tests."""
    instance = spawn_service("orchestration", "orchestration-1", migrated_database_url, tmp_path_factory.mktemp("api"))
    try:
        instance.wait_ready()
        yield instance
    finally:
        code = instance.terminate() if instance.stopped_with is None else instance.stopped_with
    assert code == 0, f"exit code after SIGTERM: {code}"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL server of this module's own: its tests kill it with `kill -9` and start it again."""
    from own_postgres import start_own_postgres

    own = start_own_postgres()
    try:
        yield own
    finally:
        own.remove()


@pytest.fixture
def own_database_url(own_postgres: Any) -> Iterator[str]:
    """A fresh database on the module's own server (started again if an earlier test left it killed)."""
    from tasker_cluster.db.scratch import create_database, drop_database

    own_postgres.ensure_running()
    name = f"t_outage_{uuid.uuid4().hex[:12]}"
    admin_url = own_postgres.url("postgres")
    create_database(admin_url, name)
    try:
        yield own_postgres.url(name)
    finally:
        own_postgres.ensure_running()
        drop_database(admin_url, name)
