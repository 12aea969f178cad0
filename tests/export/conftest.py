"""A throwaway project with the repository's own topology, for the export tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from export_cli import REPO, STEERING

from tasker_cluster.project import Project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A copy of the repository's config/ (the default topology and the templates) in a folder of its own."""
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    created = Project(tmp_path / "shop")
    shutil.copytree(REPO / "config", created.root / "config", ignore=shutil.ignore_patterns("generated"))
    return created
