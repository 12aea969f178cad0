"""The real `cluster` CLI run in a throwaway project, for the export tests.

A module of its own rather than conftest.py: several test folders have a conftest.py, and `from conftest import`
resolves to whichever of them pytest imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tasker_cluster.project import Project

REPO = Path(__file__).resolve().parents[2]
CLUSTER = str(Path(sys.executable).with_name("cluster"))
# Variables that would steer the CLI from outside the test: counts, DATABASE_URL, the project folder.
STEERING = ("DATABASE_URL", "TASKER_ORCHESTRATION_INSTANCES", "TASKER_WORKER_INSTANCES", "TASKER_PROJECT_DIR")


def run_cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in STEERING}
    return subprocess.run(
        [CLUSTER, "--project-dir", str(project.root), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
