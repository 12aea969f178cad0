"""Scripted orchestration servers for the harness's unit tests: real HTTP on loopback, started per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scripted_orchestration import ScriptedOrchestration


@pytest.fixture
def servers() -> Iterator[list[ScriptedOrchestration]]:
    started = [ScriptedOrchestration(f"orchestration-{index}").start() for index in (1, 2)]
    yield started
    for server in started:
        server.stop()
