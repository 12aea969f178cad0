"""The real `cluster` CLI run in a throwaway project, for the export tests.

A module of its own rather than conftest.py: several test folders have a conftest.py, and `from conftest import`
resolves to whichever of them pytest imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

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


def set_probes(project: Project, **services: dict[str, Any]) -> None:
    """Each named service probed as given: the HTTP paths the default topology writes go with "http" only."""
    data = tomllib.loads(project.config_file.read_text())
    for name, keys in services.items():
        table = data["services"][name]
        table.pop("health_path", None)
        table.pop("ready_path", None)
        table.update(keys)
    project.config_file.write_text(tomli_w.dumps(data))
