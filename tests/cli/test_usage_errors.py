"""Usage errors of the real `cluster` command take the shape of every other error: `error: ...` then `  fix: ...`,
exit 2, no Click panel; `-h` is `--help` everywhere and `--version` prints the installed version."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import version

import pytest

from support.sandbox import CLUSTER, STEERING, Sandbox
from tasker_cluster.cli.commands import COMMANDS
from tasker_cluster.proc.records import read_record


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in STEERING and not key.startswith("_")}
    return subprocess.run(
        [CLUSTER, *args], capture_output=True, text=True, env={**clean, "COLUMNS": "80"}, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "message", "fix"),
    [
        (["start-all", "--bogus"], "no such option: --bogus", "cluster start-all --help"),
        (["start"], "missing argument 'NAME'", "cluster start --help"),
        (["status", "--timeout", "abc"], "invalid value for '--timeout'", "cluster status --help"),
        (["logs", "-n", "-3"], "invalid value for '--lines' / '-n'", "cluster logs --help"),
        (["stop", "--timeout"], "option '--timeout' requires an argument", "cluster stop --help"),
        (["nosuch"], "no such command 'nosuch'", "cluster --help"),
        (["db", "nosuch"], "no such command 'nosuch'", "cluster db --help"),
        (["db", "status", "--jsn"], "no such option: --jsn", "cluster db status --help"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_usage_error_is_one_error_line_and_a_fix_line(argv: list[str], message: str, fix: str) -> None:
    result = _run(*argv)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert lines[-1].startswith("  fix: ") and f"`{fix}`" in lines[-1], result.stderr
    assert "╭" not in result.stderr and "Traceback" not in result.stderr


def test_a_fast_command_names_its_bad_value_the_same_way() -> None:
    result = _run("status-quick", "--json=yes")

    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("error: ")
    assert "  fix: " in result.stderr and "╭" not in result.stderr


@pytest.mark.parametrize(
    "command", [[], *([c.group, c.name] if c.group else [c.name] for c in COMMANDS), ["db"]], ids=" ".join
)
def test_h_is_help_everywhere(command: list[str]) -> None:
    short, long = _run(*command, "-h"), _run(*command, "--help")

    assert short.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert "Usage:" in short.stdout


def test_version_prints_the_installed_version() -> None:
    result = _run("--version")

    assert result.returncode == 0
    assert result.stdout == f"cluster {version('tasker-cluster')}\n"


@pytest.mark.parametrize("command", ["start", "stop", "restart", "logs"])
def test_a_misspelt_instance_name_is_answered_with_the_closest_names(command: str, sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=1)

    result = sandbox.cli(command, "orchestation-1")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: unknown instance orchestation-1",
        "  fix: did you mean one of orchestration-1, orchestration-2, orchestration? Otherwise use one of these "
        "names: services orchestration, worker; instances orchestration-1, orchestration-2, worker-1",
    ]
    assert [read_record(sandbox.project, name) for name in sandbox.config().names()] == [None] * 3, "it started one"


def test_a_name_close_to_nothing_gets_no_suggestion(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)

    result = sandbox.cli("stop", "zz")

    assert result.returncode == 2
    assert result.stderr.splitlines()[1].startswith("  fix: use one of these names: services orchestration, worker")
