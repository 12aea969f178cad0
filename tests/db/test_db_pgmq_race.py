"""PGMQ's SQL fails when run twice, so racing installers must install it exactly once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

pytestmark = pytest.mark.db

_INSTALLER = """
import sys
from pgmq.install import get_embedded_install_sql
from tasker_cluster.db.pgmq_install import ensure_pgmq
get_embedded_install_sql()  # warm: the race should be between installs, not between imports
sys.stdin.readline()  # every process is loaded and waiting: release them together
print(ensure_pgmq(sys.argv[1]))
"""


def test_four_racing_processes_install_pgmq_exactly_once(empty_database_url: str) -> None:
    installers = [
        subprocess.Popen(
            [sys.executable, "-c", _INSTALLER, empty_database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for installer in installers:
        assert installer.stdin is not None
        installer.stdin.write("go\n")
        installer.stdin.flush()
    results = [installer.communicate(timeout=60) for installer in installers]

    assert [process.returncode for process in installers] == [0, 0, 0, 0], [err for _, err in results]
    assert sorted(out.strip() for out, _ in results) == ["False", "False", "False", "True"]
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)


def test_installing_into_a_database_that_has_pgmq_changes_nothing(database_url: str) -> None:
    from tasker_cluster.db.pgmq_install import ensure_pgmq

    assert ensure_pgmq(database_url) is False
