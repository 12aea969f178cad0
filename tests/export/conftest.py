"""A throwaway project with the repository's own topology, for the export tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from export_cli import REPO, STEERING

from tasker_cluster.config.sources import DEFAULT_TOPOLOGY
from tasker_cluster.project import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The packaged default topology and the repository's templates in a folder of its own (never the checkout's
    config/cluster.toml, which is the user's)."""
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    created = Project(tmp_path / "shop")
    shutil.copytree(REPO / "config" / "templates", created.root / "config" / "templates")
    shutil.copy(DEFAULT_TOPOLOGY, created.config_file)
    return created
