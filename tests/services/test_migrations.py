"""Schema migrations at start-up: several instances starting at once apply each migration exactly once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from tasker_cluster.services.common.migrations import apply_migrations, available_migrations

pytestmark = pytest.mark.db

_PREPARE = """
import sys
from tasker_cluster.services.common.database import prepare_database
from tasker_cluster.services.common.settings import ServiceSettings
settings = ServiceSettings(role="worker", name=sys.argv[1], port=1, database_url=sys.argv[2])
prepare_database(settings, ["worker_examples_queue", "orchestration_step_results"])
"""
STARTING_TOGETHER = 6


def test_instances_starting_together_install_pgmq_and_apply_each_migration_once(empty_database_url: str) -> None:
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", _PREPARE, f"instance-{n}", empty_database_url],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(STARTING_TOGETHER)
    ]
    outcomes = [(start.communicate(timeout=60)[1], start.returncode) for start in starts]
    assert [stderr for stderr, code in outcomes if code != 0] == []
    with psycopg.connect(empty_database_url) as conn:
        applied = conn.execute("SELECT version FROM tasker.schema_migrations ORDER BY version").fetchall()
        queues = conn.execute("SELECT queue_name FROM pgmq.meta ORDER BY queue_name").fetchall()
    assert [v for (v,) in applied] == [m.version for m in available_migrations()]
    assert [q for (q,) in queues] == ["orchestration_step_results", "worker_examples_queue"]


def test_a_current_schema_is_left_alone(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        first = apply_migrations(conn)
        again = apply_migrations(conn)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert again == []
