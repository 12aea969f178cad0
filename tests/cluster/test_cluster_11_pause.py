"""Scenario 11: a paused instance answers nothing until it is resumed, then serves again, whichever engine runs the
cluster (SIGSTOP to its process group locally, the cgroup freezer under compose)."""

from __future__ import annotations

import httpx
import pytest

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

PROBE_TIMEOUT_S = 1.0


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.TransportError:
        return False


def url_of(instance: str, urls: tuple[str, ...]) -> str:
    """The URL whose server names itself `instance` on /health."""
    named = {httpx.get(f"{url}/health", timeout=PROBE_TIMEOUT_S).json()["instance"]: url for url in urls}
    return named[instance]


def test_a_paused_instance_answers_nothing_until_resumed(
    scenario_manager: BlockingManager, faults: FaultDriver, figures: ScenarioFigures
) -> None:
    victim = faults.instances("orchestration")[-1]
    url = url_of(victim, scenario_manager.manager.cluster.config.orchestration_urls)
    assert answers(url), f"{victim} at {url} should answer before the pause"
    faults.pause(victim)
    try:
        assert not answers(url), f"{victim} answered while paused"
    finally:
        faults.resume(victim)
    scenario_manager.wait_for_healthy(30)
    assert answers(url)
    figures.report(paused=victim, driver=faults.name)
