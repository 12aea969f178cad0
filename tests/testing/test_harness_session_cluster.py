"""Which cluster a test session gets: a throwaway one unless the user names a running one explicitly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from scripted_orchestration import ScriptedOrchestration, scripted_topology

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


def test_the_default_source_starts_a_throwaway_cluster_even_when_the_env_file_names_one_that_answers(
    tmp_path: Path, servers: list[ScriptedOrchestration]
) -> None:
    root = _project(tmp_path, [servers[0].url], [servers[1].url])
    target = acquire_cluster(root, "start")
    try:
        assert target.started_here
        assert servers[0].url not in target.config.orchestration_urls
        assert target.faults is not None
        assert target.faults.instances("orchestration") == ["orchestration-1", "orchestration-2"]
    finally:
        target.shutdown()
    assert servers[0].requests == servers[1].requests == [], "the named cluster was contacted"


def test_source_env_uses_the_named_cluster_as_is_and_shutdown_leaves_it_running(
    tmp_path: Path, servers: list[ScriptedOrchestration]
) -> None:
    root = _project(tmp_path, [servers[0].url], [servers[1].url])
    target = acquire_cluster(root, "env")
    assert not target.started_here
    assert target.config.orchestration_urls == (servers[0].url,)
    # No PID records describe these servers, so faults cannot be injected into them.
    assert target.faults is None
    target.shutdown()
    assert httpx.get(f"{servers[0].url}/health").status_code == 200, "shutdown touched a cluster it did not start"


def test_a_named_cluster_that_is_only_partly_ready_is_an_error(
    tmp_path: Path, servers: list[ScriptedOrchestration]
) -> None:
    servers[1].script.ready = False
    root = _project(tmp_path, [servers[0].url, servers[1].url])
    with pytest.raises(HarnessError) as raised:
        acquire_cluster(root, "env")
    assert "1 of 2 instances ready" in raised.value.message
    assert "throwaway cluster" in raised.value.fix


def test_source_env_without_named_urls_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as raised:
        acquire_cluster(_project(tmp_path, []), "env")
    assert "names no cluster" in raised.value.message
    assert "cluster setup-env" in raised.value.fix


def test_an_unknown_source_in_the_environment_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TASKER_TEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "TASKER_TEST_CLUSTER_SOURCE": "auto"},
        timeout=60,
    )
    assert result.returncode == 4
    assert "TASKER_TEST_CLUSTER_SOURCE=auto is not a cluster source\n  fix: use one of: start, env" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_retired_auto_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as raised:
        acquire_cluster(_project(tmp_path, []), "auto")
    assert "unknown cluster source 'auto'" in raised.value.message
    assert raised.value.fix == "use one of: start, env, compose"
