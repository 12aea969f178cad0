"""The probe keys of a `[services.NAME]` table: kinds, defaults, and the combinations refused with their fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasker_cluster.config.schema import check_file
from tasker_cluster.errors import ConfigError

FILE = Path("/p/config/cluster.toml")


def _checked(**keys: Any) -> Any:
    table = {"role": "worker", "count": 1, "command": ["run"], **keys}
    return check_file(FILE, {"database": {"mode": "none"}, "services": {"w": table}}).services["w"]


def _refused(**keys: Any) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        _checked(**keys)
    return raised.value


def test_a_service_is_probed_over_http_unless_it_says_otherwise() -> None:
    table = _checked()
    assert (table.probe, table.probe_command, table.ready_path) == ("http", None, "/health/ready")


@pytest.mark.parametrize("kind", ["tcp", "none"])
def test_tcp_and_none_take_no_other_key(kind: str) -> None:
    assert _checked(probe=kind).probe == kind


def test_an_exec_probe_takes_its_command_as_an_argv_list_with_placeholders() -> None:
    table = _checked(probe="exec", probe_command=["{python}", "check.py", "--port", "{port}"])
    assert table.probe_command == ["{python}", "check.py", "--port", "{port}"]


def test_an_exec_probe_without_its_command_is_refused_naming_the_key_to_add() -> None:
    error = _refused(probe="exec")
    assert error.message == f'{FILE}: services.w.probe_command: required with probe = "exec"'
    assert error.fix.startswith("add `services.w.probe_command`, the check to run as an argv list")


def test_a_probe_command_with_another_kind_is_refused_with_both_ways_out() -> None:
    error = _refused(probe="tcp", probe_command=["check"])
    assert error.message == (
        f'{FILE}: services.w.probe_command: only used with probe = "exec", and this service\'s probe is "tcp"'
    )
    assert error.fix == 'set services.w.probe = "exec" to run it, or remove `services.w.probe_command`'
    # Without `probe`, the kind is http: the command would be ignored just the same.
    assert 'this service\'s probe is "http"' in _refused(probe_command=["check"]).message


@pytest.mark.parametrize("kind", ["tcp", "exec", "none"])
def test_an_http_path_with_another_kind_is_refused_rather_than_silently_ignored(kind: str) -> None:
    command = {"probe_command": ["check"]} if kind == "exec" else {}
    error = _refused(probe=kind, ready_path="/ready", **command)
    assert error.message == (
        f'{FILE}: services.w.ready_path: only used with probe = "http", and this service\'s probe is "{kind}"'
    )
    assert error.fix == 'remove `services.w.ready_path`, or set services.w.probe = "http" to probe it'


def test_an_unknown_kind_and_a_shell_string_command_are_refused() -> None:
    assert "Input should be 'http', 'tcp', 'exec' or 'none'" in _refused(probe="grpc").message
    assert (
        "services.w.probe_command: Input should be a valid list"
        in _refused(probe="exec", probe_command="check.py --port 1").message
    )


def test_an_unknown_placeholder_in_the_probe_command_is_refused() -> None:
    error = _refused(probe="exec", probe_command=["check", "{host}"])
    assert "services.w.probe_command[1]: unknown placeholder {host}" in error.message


def test_a_probe_timeout_is_seconds_for_any_probing_kind_and_unset_leaves_each_kinds_default() -> None:
    assert _checked().probe_timeout is None
    assert _checked(probe_timeout=2.5).probe_timeout == 2.5
    assert _checked(probe="tcp", probe_timeout=1).probe_timeout == 1.0
    assert _checked(probe="exec", probe_command=["check"], probe_timeout=30).probe_timeout == 30.0


@pytest.mark.parametrize(
    ("value", "problem", "fix"),
    [
        (0, "Input should be greater than 0", "correct `services.w.probe_timeout`"),
        (-1.5, "Input should be greater than 0", "correct `services.w.probe_timeout`"),
        ("3", "Input should be a valid number, not a string", "write the number without quotes: `probe_timeout = 3`"),
        (True, "Input should be a valid number, not a boolean", "correct `services.w.probe_timeout`"),
    ],
)
def test_a_probe_timeout_that_is_no_positive_number_is_refused_naming_file_key_and_fix(
    value: object, problem: str, fix: str
) -> None:
    error = _refused(probe_timeout=value)
    assert error.message == f"{FILE}: services.w.probe_timeout: {problem}"
    assert error.fix.startswith(fix)


def test_a_probe_timeout_without_a_probe_is_refused_rather_than_silently_ignored() -> None:
    error = _refused(probe="none", probe_timeout=3)
    assert error.message == (
        f'{FILE}: services.w.probe_timeout: only used with a probe, and this service\'s probe is "none"'
    )
    assert error.fix == "remove `services.w.probe_timeout`, or set services.w.probe to the kind of check to time"
