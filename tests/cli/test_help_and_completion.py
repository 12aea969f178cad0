"""Help and shell completion of the real `cluster` command, both built from the declarations in cli/commands.py."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support.sandbox import CLUSTER, STEERING, Sandbox
from tasker_cluster.cli.commands import COMMANDS


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in STEERING and not key.startswith("_")}
    return subprocess.run(
        [CLUSTER, *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "80", **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["start", "stop", "restart", "logs"])
def test_help_says_the_command_takes_several_names(command: str) -> None:
    result = _run(command, "--help")

    assert result.returncode == 0
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert "{NAME}..." in usage or "[NAME]..." in usage
    assert "NAME..." in result.stdout.split("Arguments")[1]


@pytest.mark.parametrize(
    "command", [[c.group, c.name] if c.group else [c.name] for c in COMMANDS], ids=lambda words: " ".join(words)
)
def test_no_help_text_is_cut_on_an_80_column_terminal(command: list[str]) -> None:
    result = _run(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout, result.stdout


# What Typer writes in the type column of a flag or an argument: a Python type, nothing a user types.
_PYTHON_TYPE = re.compile(r"<(bool|str|int|float|Path|list\[\w+\])>")


@pytest.mark.parametrize(
    "command",
    [[], ["db"], *([c.group, c.name] if c.group else [c.name] for c in COMMANDS)],
    ids=lambda words: " ".join(words) or "cluster",
)
def test_help_shows_no_python_type_beside_flags_and_arguments(command: list[str]) -> None:
    result = _run(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert not _PYTHON_TYPE.search(result.stdout), result.stdout


def test_root_help_lists_the_completion_options_as_plain_flags() -> None:
    lines = [" ".join(line.strip("│ ").split()) for line in _run("--help").stdout.splitlines()]

    assert "--install-completion Install completion for the current shell." in lines
    assert any(line.startswith("--show-completion Show completion for the current shell") for line in lines)
    assert "--help -h Show this message and exit." in lines


def test_long_option_help_keeps_every_word() -> None:
    words = " ".join(_run("start-all", "--help").stdout.replace("│", " ").split())

    assert "(beats TASKER_ORCHESTRATION_INSTANCES and .env)" in words
    assert "(beats TASKER_WORKER_INSTANCES)" in words


def _complete(words: str, cwd: Path) -> list[str]:
    """What bash completion offers for the last word of `words`, asked as Typer's bash script asks it."""
    count = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {"_CLUSTER_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(count)}
    result = _run(env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completion_offers_commands_instance_and_service_names_and_tiers(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=1)

    assert _complete("cluster st", sandbox.root) == ["start-all", "start", "status", "status-quick", "stop"]
    assert _complete("cluster restart orch", sandbox.root) == ["orchestration", "orchestration-1", "orchestration-2"]
    assert _complete(f"cluster --project-dir {sandbox.root} logs w", Path("/")) == ["worker", "worker-1"]
    assert _complete("cluster test c", sandbox.root) == ["cluster", "compose"]


def test_completion_scripts_are_shown_and_installed_for_the_shell(tmp_path: Path) -> None:
    shown = _run("--show-completion", "bash")
    installed = _run("--install-completion", "bash", env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})

    assert "_CLUSTER_COMPLETE=complete_bash" in shown.stdout
    assert installed.returncode == 0, installed.stderr
    assert "_CLUSTER_COMPLETE=complete_bash" in (tmp_path / ".bash_completions" / "cluster.sh").read_text()
    assert "cluster.sh" in (tmp_path / ".bashrc").read_text()
