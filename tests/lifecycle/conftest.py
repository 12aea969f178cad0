"""Every lifecycle test gets a sandbox project on free ports; whatever it started is stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.sandbox import STEERING, Sandbox
from tasker_cluster.ports import find_free_port_block
from tasker_cluster.project import Project
from tasker_cluster.stopping import stop_instances


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    for variable in STEERING:
        monkeypatch.delenv(variable, raising=False)
    box = Sandbox(Project(tmp_path / "project"), find_free_port_block(20))
    box.root.mkdir()
    try:
        yield box
    finally:
        stop_instances(box.project, timeout=1.0)
