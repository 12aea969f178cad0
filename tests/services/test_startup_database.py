"""Start-up against a database that is not there yet, or not usable: the instance waits, or says why, without
exiting into a crash loop (what a container or pod started before its database would do)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from service_instances import ServiceProcess, spawn_service

from tasker_cluster.db.scratch import drop_database
from tasker_cluster.proc.ports import find_free_port_block

pytestmark = pytest.mark.services


def test_an_instance_started_before_its_database_exists_waits_and_becomes_ready(
    pg_server: Any, _pgmq_template: str, tmp_path: Path
) -> None:
    name = f"t_late_{uuid.uuid4().hex[:10]}"
    instance = spawn_service("worker", "worker-1", pg_server.url_for(name), tmp_path)
    try:
        wait_until_logged(instance, "waiting for the database")
        pg_server.create_database(name, template=_pgmq_template)
        instance.wait_ready()
        assert instance.terminate() == 0
    finally:
        instance.kill()
        drop_database(pg_server.admin_url, name)


def test_sigterm_while_waiting_for_the_database_ends_the_instance_at_once(tmp_path: Path) -> None:
    nobody_listens = find_free_port_block(1)
    url = f"postgresql://postgres@127.0.0.1:{nobody_listens}/tasker"
    instance = spawn_service("worker", "worker-1", url, tmp_path, ["--startup-timeout", "60"])
    wait_until_logged(instance, "waiting for the database")
    # Within the stop timeout of the harness, far below the 60 s it would otherwise wait.
    assert instance.terminate(timeout=10) == 0
    assert "stopped by SIGTERM during start-up" in instance.log()


def test_a_database_not_in_utf8_keeps_the_instance_not_ready_naming_the_encoding_and_the_fix(
    pg_server: Any, tmp_path: Path
) -> None:
    name = f"t_ascii_{uuid.uuid4().hex[:10]}"
    statement = "CREATE DATABASE {} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    if pg_server.owner is not None:
        statement += " OWNER {}"
    owner = [sql.Identifier(pg_server.owner)] if pg_server.owner is not None else []
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name), *owner))
    instance = spawn_service("orchestration", "orchestration-1", pg_server.url_for(name), tmp_path)
    try:
        ready = wait_for_answer(instance, "/health/ready")
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert "database" in body["failed"], body
        detail = body["checks"]["database"]["detail"]
        assert "SQL_ASCII" in detail and "UTF8" in detail and "fix:" in detail, detail
        assert wait_for_answer(instance, "/health").status_code == 200
        assert instance.terminate() == 0
    finally:
        instance.kill()
        drop_database(pg_server.admin_url, name)


def wait_until_logged(instance: ServiceProcess, phrase: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while phrase not in instance.log():
        if instance.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{instance.name} never logged {phrase!r}:\n{instance.log()}")
        time.sleep(0.02)


def wait_for_answer(instance: ServiceProcess, path: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            try:
                return client.get(f"{instance.url}{path}")
            except httpx.TransportError:
                if instance.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{instance.name} never answered {path}:\n{instance.log()}")
                time.sleep(0.02)
