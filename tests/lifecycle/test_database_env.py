"""With `[database] mode = "local"`, start brings up the project's PostgreSQL and hands instances its URL."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from support.sandbox import Sandbox, service
from tasker_cluster.cluster.stop import stop_instances
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

pytestmark = pytest.mark.db


@pytest.fixture
def database_sandbox() -> Iterator[Sandbox]:
    # Under /tmp and world-traversable: as root the database server runs as `postgres` and must reach its data.
    root = Path(tempfile.mkdtemp(prefix="tasker-lifecycle-db-"))
    os.chmod(root, 0o755)
    box = Sandbox(Project(root), find_free_port_block(21))
    try:
        yield box
    finally:
        from tasker_cluster.config.load import load_database_config
        from tasker_cluster.db.control import stop_database

        try:
            stop_instances(box.project, None, timeout=1.0)
        finally:
            stop_database(box.project, load_database_config(box.project))
            shutil.rmtree(root, ignore_errors=True)


def test_start_gives_each_instance_the_local_database_url(database_sandbox: Sandbox) -> None:
    box = database_sandbox
    box.write_topology({"orchestration": service("orchestration", 1, box.base)}, database="local")
    text = box.project.config_file.read_text().replace('mode = "local"', f'mode = "local"\nport = {box.base + 20}')
    box.project.config_file.write_text(text)

    report = box.start(timeout=60)

    assert report.ok, report.failed
    environ = psutil.Process(box.record("orchestration-1").pid).environ()
    assert f":{box.base + 20}/" in environ["DATABASE_URL"]
