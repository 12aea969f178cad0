"""A normal (non-root) user runs initdb and pg_ctl directly, without runuser.

Here the suite runs as root, so the test plays the normal user by running the CLI as `postgres` with the system
Python (the venv's interpreter lives under /root, which other users cannot enter).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tasker_cluster.db.postmaster import running_postmaster
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

from .conftest import write_config

pytestmark = pytest.mark.db

SYSTEM_PYTHON = Path("/usr/bin/python3")


def _system_python_matches() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    probe = [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"]
    return subprocess.run(probe, capture_output=True, text=True).stdout.strip() == str(sys.version_info[:2])


@pytest.fixture
def postgres_owned_project() -> Iterator[Path]:
    if os.geteuid() != 0 or not _system_python_matches():
        pytest.skip("needs root (to become `postgres`) and a system Python of the venv's version")
    root = Path(tempfile.mkdtemp(prefix="tasker-test-user-"))
    os.chmod(root, 0o755)
    write_config(root, find_free_port_block(1))
    shutil.chown(root, "postgres")
    for path in root.rglob("*"):
        shutil.chown(path, "postgres")
    try:
        yield root
    finally:
        _as_postgres(root, "db", "down")
        shutil.rmtree(root, ignore_errors=True)


def _as_postgres(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    source = Path(__file__).resolve().parents[2] / "src"
    path = os.pathsep.join([str(source), sysconfig.get_paths()["purelib"]])
    argv = ["runuser", "-u", "postgres", "--", "env", f"PYTHONPATH={path}", f"HOME={root}", str(SYSTEM_PYTHON)]
    argv += ["-m", "tasker_cluster", "--project-dir", str(root), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)


def test_a_normal_user_runs_the_server_itself_with_its_data_in_the_project(postgres_owned_project: Path) -> None:
    result = _as_postgres(postgres_owned_project, "db", "up")
    assert result.returncode == 0, result.stderr
    # runuser works only for root: had the CLI used it here, `db up` would have failed.
    assert "system user" not in result.stderr  # the root-only announcement
    record = running_postmaster(Project(postgres_owned_project).database_dir)
    assert record is not None
    assert psutil.Process(record.pid).username() == "postgres"
