"""Service settings: options, their environment defaults, and refusals."""

from __future__ import annotations

import pytest

from tasker_cluster.errors import ConfigError
from tasker_cluster.services.common.settings import parse_orchestration_settings, parse_worker_settings


def test_the_instance_environment_fills_in_what_the_command_line_leaves_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKER_INSTANCE_ID", "worker-b-2")
    monkeypatch.setenv("TASKER_INSTANCE_PORT", "23456")
    monkeypatch.setenv("TASKER_BIND_ADDRESS", "127.0.0.2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    settings = parse_worker_settings(["--namespaces", "alpha, beta"])
    assert (settings.name, settings.port, settings.host) == ("worker-b-2", 23456, "127.0.0.2")
    assert settings.database_url == "postgresql://db/x"
    assert settings.namespaces == ("alpha", "beta")


def test_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKER_POOL_MAX", "7")
    settings = parse_orchestration_settings(["--port", "1", "--pool-max", "9", "--batch-window-ms", "0"])
    assert (settings.pool_max, settings.batch_window, settings.role) == (9, 0.0, "orchestration")


def test_an_instance_name_that_could_not_be_passed_to_the_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="instance name"):
        parse_worker_settings(["--port", "1", "--name", "bad name"])


def test_a_bad_environment_value_is_reported_like_a_bad_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKER_POOL_MAX", "lots")
    with pytest.raises(SystemExit) as exited:
        parse_worker_settings(["--port", "1"])
    assert exited.value.code == 2
    assert "--pool-max" in capsys.readouterr().err


def test_a_missing_port_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKER_INSTANCE_PORT", raising=False)
    with pytest.raises(SystemExit) as exited:
        parse_worker_settings([])
    assert exited.value.code == 2


def test_an_unknown_log_level_is_refused_with_the_accepted_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKER_LOG_LEVEL", "bogus")
    with pytest.raises(ConfigError, match="log level 'bogus'") as refused:
        parse_worker_settings(["--port", "1"])
    assert "debug" in refused.value.fix


def test_the_log_level_is_accepted_in_any_case() -> None:
    assert parse_orchestration_settings(["--port", "1", "--log-level", "DEBUG"]).log_level == "debug"
