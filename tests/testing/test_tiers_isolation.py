"""`cluster test` never reads the user's state: run on a copy of the project with a hostile `.env` and environment
(a live decoy cluster named by TASKER_TEST_*, DATABASE_URL pointing nowhere, instance counts and settings, PG*), the
cluster tier still runs on a throwaway cluster of the topology file, and nothing reaches the decoy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tasker_cluster.config.sources import DEFAULT_TOPOLOGY
from tasker_cluster.proc.ports import LOOPBACK, find_free_port_block

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "test_cluster_01_concurrent_creation.py"
SCRIPTED = REPO / "tests" / "testing"


@pytest.fixture
def decoy() -> Iterator[object]:
    sys.path.insert(0, str(SCRIPTED))
    try:
        from scripted_orchestration import ScriptedOrchestration
    finally:
        sys.path.remove(str(SCRIPTED))
    server = ScriptedOrchestration("users-orchestration-1").start()
    yield server
    server.stop()


def _copy_of_the_project(root: Path) -> Path:
    shutil.copytree(REPO / "config" / "templates", root / "config" / "templates")
    shutil.copy(DEFAULT_TOPOLOGY, root / "config" / "cluster.toml")
    cluster_tests = root / "tests" / "cluster"
    cluster_tests.mkdir(parents=True)
    for path in (REPO / "tests" / "cluster").iterdir():
        if path.suffix in (".py", ".sql") and (not path.name.startswith("test_") or path.name == SCENARIO):
            shutil.copy(path, cluster_tests / path.name)
    (root / "tests" / "test_unit.py").write_text("def test_a_unit_test():\n    pass\n")
    return root


@pytest.mark.services
def test_the_cluster_tier_runs_on_a_throwaway_cluster_whatever_the_env_file_and_environment_say(
    tmp_path: Path, decoy: object
) -> None:
    project = _copy_of_the_project(tmp_path / "project")
    nowhere = f"postgresql://nobody@{LOOPBACK}:{find_free_port_block(1)}/nowhere"
    hostile = {
        "TASKER_TEST_ORCHESTRATION_URLS": decoy.url,  # type: ignore[attr-defined]
        "TASKER_TEST_WORKER_URLS": decoy.url,  # type: ignore[attr-defined]
        "DATABASE_URL": nowhere,
        "TASKER_ORCHESTRATION_INSTANCES": "3",
        "TASKER_WORKER_INSTANCES": "1",
    }
    env_file = "".join(f"{key}={value}\n" for key, value in hostile.items())
    (project / ".env").write_text(env_file)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TASKER_"))}
    env |= hostile | {
        "TASKER_POOL_MAX": "1",
        "TASKER_WORKER_CONCURRENCY": "1",
        "TASKER_PROJECT_DIR": str(tmp_path / "elsewhere"),
        "PGHOST": "/nonexistent",
        "PGPORT": "1",
    }
    reports = tmp_path / "reports"
    command = ["test", "cluster", "--workers", "0", "--report-dir", str(reports)]
    result = subprocess.run(
        [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project), *command],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=110,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert decoy.requests == [], "the user's cluster named in .env was contacted"  # type: ignore[attr-defined]
    assert (project / ".env").read_text() == env_file
    assert not {".pids", ".data", ".logs"} & {path.name for path in project.iterdir()}, "the project was written to"
    cases = {case.get("name"): case for case in ElementTree.parse(reports / "phase-2-cluster.xml").iter("testcase")}
    assert len(cases) == 8 and all(case.find("skipped") is None for case in cases.values()), output
    figures = next(
        p.get("value") for case in cases.values() for p in case.iter("property") if p.get("name") == "figures"
    )
    # The topology file's two orchestration instances, not the three the environment asks for.
    assert "instances=2" in figures
    assert output.rstrip().splitlines()[-1] == "total: 9 passed, 0 failed, 0 skipped"
