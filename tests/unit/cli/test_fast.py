"""The fast path reads every plain command line exactly as Typer does: both come from one declaration, and for
command lines generated from that declaration they agree on the command and every value."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tasker_cluster.cli.commands import COMMANDS
from tasker_cluster.cli.fast import recognise
from tasker_cluster.cli.spec import Command, Flag, Positional, Value
from tasker_cluster.cli.typer_app import build_app
from tasker_cluster.project import Project

FAST = [command for command in COMMANDS if command.fast]


def _typer_reads(argv: list[str]) -> tuple[str, Project, dict[str, Any]] | None:
    seen: list[tuple[str, Project, dict[str, Any]]] = []

    def capture(command: Command, project: Project, values: dict[str, Any]) -> int:
        seen.append((command.name, project, values))
        return 0

    try:
        build_app(invoke=capture)(argv, standalone_mode=False)
    except Exception:
        return None
    return seen[0] if seen else None


def _number(param: Value, rng: random.Random) -> str:
    low = int(param.min or 0) + 1
    if param.kind is int:
        return str(rng.randrange(low, low + 5))
    return rng.choice([f"{low}", f"{low}.5", f"{low + 1}.25"])


def _command_line(command: Command, rng: random.Random, folder: Path) -> list[str]:
    words: list[str] = []
    for param in rng.sample(command.params, rng.randrange(len(command.params) + 1)):
        if isinstance(param, Flag):
            words.append(rng.choice([*param.names, *param.off]))
        elif isinstance(param, Value):
            name, value = rng.choice(param.names), _number(param, rng)
            words += [f"{name}={value}"] if rng.random() < 0.5 else [name, value]
    names = [p for p in command.params if isinstance(p, Positional)]
    if names:
        count = rng.randrange(1 if names[0].required else 0, 3)
        for name in (f"worker-{index}" for index in range(1, count + 1)):
            words.insert(rng.randrange(len(words) + 1), name)
    root = ["--project-dir", str(folder)] if rng.random() < 0.7 else [f"--project-dir={folder}"]
    if rng.random() < 0.3:
        root.append("--debug")
    return [*root, command.name, *words]


@pytest.mark.parametrize("command", FAST, ids=[command.name for command in FAST])
def test_the_fast_path_and_typer_read_generated_command_lines_alike(command: Command, tmp_path: Path) -> None:
    rng = random.Random(f"{command.name}-13")
    recognised = 0
    for _ in range(60):
        argv = _command_line(command, rng, tmp_path)
        fast = recognise(argv)
        if fast is None:
            continue
        recognised += 1
        assert _typer_reads(argv) == (
            fast.command.name,
            Project.discover(fast.root["project_dir"]),
            fast.values,
        ), argv
    assert recognised >= 50


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--help"],
        ["status", "--timeout", "-1"],
        ["status", "--json", "--json"],
        ["stop", "--timeout"],
        ["start"],
        ["status-quick", "extra"],
        ["stop", "--", "worker-1"],
        ["status", "--timeout", "1e3"],
        ["logs", "-f"],
        ["db", "status"],
        ["--project-dir", "-x", "status"],
    ],
)
def test_what_the_fast_path_is_not_sure_of_goes_to_typer(argv: list[str]) -> None:
    assert recognise(argv) is None
