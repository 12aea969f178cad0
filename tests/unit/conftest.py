"""Unit tests: a project folder of the test's own, its configuration loaded for real, no process started."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from support.sandbox import STEERING
from tasker_cluster.config.load import load_config
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.project import Project

BASE = 21500


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClusterConfig:
    """orchestration-1 on BASE, worker-1 and worker-2 from BASE + 10; no database; startup_timeout 5 s."""
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    project = Project(tmp_path)
    project.config_file.parent.mkdir()
    service = {"command": ["{python}", "server.py", "{port}"], "startup_timeout": 5, "stop_grace": 2}
    document = {
        "database": {"mode": "none"},
        "services": {
            "orchestration": {"role": "orchestration", "count": 1, "base_port": BASE, **service},
            "worker": {"role": "worker", "count": 2, "base_port": BASE + 10, **service},
        },
    }
    project.config_file.write_text(tomli_w.dumps(document))
    return load_config(project)
