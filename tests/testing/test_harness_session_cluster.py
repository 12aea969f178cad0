"""Which cluster a test session gets: the one the environment names when it answers, else a throwaway one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from scripted_orchestration import ScriptedOrchestration, scripted_topology

from tasker_cluster.proc.ports import LOOPBACK, find_free_port_block
from tasker_cluster.testing import HarnessError
from tasker_cluster.testing.session_cluster import acquire_cluster


@pytest.fixture(autouse=True)
def _no_inherited_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only each test's own .env may name a cluster, never the environment the suite happens to run in.
    monkeypatch.delenv("TASKER_TEST_ORCHESTRATION_URLS", raising=False)
    monkeypatch.delenv("TASKER_TEST_WORKER_URLS", raising=False)


def _project(root: Path, orchestration_urls: Sequence[str], worker_urls: Sequence[str] = ()) -> Path:
    (root / "config").mkdir()
    (root / "config" / "cluster.toml").write_text(scripted_topology())
    if orchestration_urls:
        (root / ".env").write_text(
            f"TASKER_TEST_ORCHESTRATION_URLS={','.join(orchestration_urls)}\n"
            f"TASKER_TEST_WORKER_URLS={','.join(worker_urls)}\n"
        )
    return root


def _dead_url() -> str:
    return f"http://{LOOPBACK}:{find_free_port_block(1)}"


def test_a_named_cluster_that_answers_is_used_as_is(tmp_path: Path, servers: list[ScriptedOrchestration]) -> None:
    root = _project(tmp_path, [servers[0].url], [servers[1].url])
    target = acquire_cluster(root, "auto")
    assert not target.started_here
    assert target.config.orchestration_urls == (servers[0].url,)
    # No PID records describe these servers, so faults cannot be injected into them.
    assert not target.can_inject_faults
    target.shutdown()
    assert httpx.get(f"{servers[0].url}/health").status_code == 200, "shutdown touched a cluster it did not start"


def test_a_named_cluster_that_is_only_partly_ready_is_an_error(
    tmp_path: Path, servers: list[ScriptedOrchestration]
) -> None:
    servers[1].script.ready = False
    root = _project(tmp_path, [servers[0].url, servers[1].url])
    with pytest.raises(HarnessError) as raised:
        acquire_cluster(root, "auto")
    assert "1 of 2 instances ready" in raised.value.message
    assert "--cluster-source start" in raised.value.fix


def test_auto_starts_a_throwaway_cluster_when_the_named_one_does_not_answer(tmp_path: Path) -> None:
    root = _project(tmp_path, [_dead_url()])
    target = acquire_cluster(root, "auto")
    try:
        assert target.started_here
        assert target.can_inject_faults
        assert target.instance_names("orchestration") == ["orchestration-1", "orchestration-2"]
    finally:
        target.shutdown()


def test_source_env_refuses_to_start_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as raised:
        acquire_cluster(_project(tmp_path, []), "env")
    assert "names no cluster" in raised.value.message
