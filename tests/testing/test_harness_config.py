from pathlib import Path

import pytest

from tasker_cluster.errors import ConfigError
from tasker_cluster.testing import ClusterConfig, Sticky


def test_from_env_reads_urls_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "TASKER_TEST_ORCHESTRATION_URLS": "http://127.0.0.1:20080, http://127.0.0.1:20081/",
        "TASKER_TEST_WORKER_URLS": "http://127.0.0.1:20100",
    }
    config = ClusterConfig.from_env(tmp_path / ".env", environ)
    assert config.orchestration_urls == ("http://127.0.0.1:20080", "http://127.0.0.1:20081")
    assert config.worker_urls == ("http://127.0.0.1:20100",)


def test_from_env_falls_back_to_the_projects_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# written by cluster setup-env\n"
        "TASKER_TEST_ORCHESTRATION_URLS=http://127.0.0.1:21080,http://127.0.0.1:21081\n"
        "TASKER_TEST_WORKER_URLS=http://127.0.0.1:21100,http://127.0.0.1:21101\n"
    )
    config = ClusterConfig.from_env(env_file, environ={})
    assert config.orchestration_urls == ("http://127.0.0.1:21080", "http://127.0.0.1:21081")
    assert len(config.worker_urls) == 2


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TASKER_TEST_ORCHESTRATION_URLS=http://127.0.0.1:21080\n")
    environ = {"TASKER_TEST_ORCHESTRATION_URLS": "http://127.0.0.1:22080"}
    assert ClusterConfig.from_env(env_file, environ).orchestration_urls == ("http://127.0.0.1:22080",)


def test_from_env_passes_options_through(tmp_path: Path) -> None:
    environ = {"TASKER_TEST_ORCHESTRATION_URLS": "http://127.0.0.1:20080"}
    config = ClusterConfig.from_env(tmp_path / ".env", environ, load_balancing=Sticky("a"), health_timeout=2.0)
    assert config.load_balancing == Sticky("a")
    assert config.health_timeout == 2.0


def test_missing_urls_name_the_variable_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        ClusterConfig.from_env(tmp_path / ".env", environ={})
    assert "TASKER_TEST_ORCHESTRATION_URLS" in raised.value.message
    assert "cluster setup-env" in raised.value.fix
    assert raised.value.exit_code == 2


def test_an_invalid_url_is_refused_with_its_expected_form() -> None:
    with pytest.raises(ConfigError) as raised:
        ClusterConfig(orchestration_urls=("127.0.0.1:8080",))
    assert "127.0.0.1:8080" in raised.value.message
    assert "http://127.0.0.1:PORT" in raised.value.fix
