"""The plain forms of the lifecycle commands, recognised without importing Typer.

Typer and its Click cost ~45 ms of CPU per call, a third of `status-quick` and more than `stop` spends stopping.
This module recognises `[--project-dir DIR] [--debug] COMMAND [NAMES] [OPTIONS]` for the lifecycle commands, with
the options of their Typer definitions (a test compares the two), and runs the same bodies (`cli/commands.py`).
Anything it is not sure of — help, an unknown option, a repeated one, a value Typer might read differently or
refuse — returns None, and Typer, the one definition of every command, parses the line and words any error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

# Values both parsers surely read alike; anything else (signs, exponents, "inf", "1_000") is left to Typer.
_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")

Values = dict[str, Any]
# NamedTuples rather than dataclasses below: a dataclass costs ~0.5 ms to define, and this module is imported by
# every `cluster` call.


class Flag(NamedTuple):
    """A boolean option: `names` set it, `off_names` clear it."""

    dest: str
    default: bool
    names: tuple[str, ...]
    off_names: tuple[str, ...] = ()


class Number(NamedTuple):
    """An option taking one value, `--name V` or `--name=V`, at least `minimum` (inclusive)."""

    dest: str
    name: str
    kind: type[int] | type[float]
    minimum: float
    default: float | None = None


class CommandShape(NamedTuple):
    """What a command accepts: options, and instance names (none, optional, or at least one)."""

    options: tuple[Flag | Number, ...]
    run: Callable[[Any, Values], int]
    names: str = "none"

    def option(self, spelling: str) -> Flag | Number | None:
        for option in self.options:
            spellings = (option.name,) if isinstance(option, Number) else (*option.names, *option.off_names)
            if spelling in spellings:
                return option
        return None

    def defaults(self) -> Values:
        return {option.dest: option.default for option in self.options}


def _status_quick(project: Any, values: Values) -> int:
    from tasker_cluster.cli import commands

    return commands.status_quick(project, as_json=values["as_json"])


def _status(project: Any, values: Values) -> int:
    from tasker_cluster.cli import commands

    return commands.status(project, as_json=values["as_json"], timeout=values["timeout"])


def _stop(project: Any, values: Values) -> int:
    from tasker_cluster.cli import commands

    return commands.stop(
        project, values["names"], timeout=values["timeout"], with_db=values["with_db"], yes=values["yes"]
    )


def _start(project: Any, values: Values) -> int:
    from tasker_cluster.cli import commands

    return commands.start(
        project,
        values["names"],
        wait=values["wait"],
        timeout=values["timeout"],
        orchestration=values["orchestration"],
        workers=values["workers"],
    )


_JSON = Flag("as_json", False, ("--json",))
_START_OPTIONS = (
    Flag("wait", True, ("--wait",), ("--no-wait",)),
    Number("timeout", "--timeout", float, 0.1),
    Number("orchestration", "--orchestration", int, 0),
    Number("workers", "--workers", int, 0),
)
COMMANDS: dict[str, CommandShape] = {
    "status-quick": CommandShape((_JSON,), _status_quick),
    "status": CommandShape((_JSON, Number("timeout", "--timeout", float, 0.05, 2.0)), _status),
    "stop": CommandShape(
        (
            Number("timeout", "--timeout", float, 0.0),
            Flag("with_db", False, ("--with-db",)),
            Flag("yes", False, ("--yes", "-y")),
        ),
        _stop,
        names="optional",
    ),
    "start-all": CommandShape(_START_OPTIONS, _start),
    "start": CommandShape(_START_OPTIONS, _start, names="required"),
}


class FastCall(NamedTuple):
    """A recognised command line: run it with `()`, which returns the exit code."""

    shape: CommandShape
    project_dir: str | None
    debug: bool
    values: Values

    def __call__(self) -> int:
        from pathlib import Path

        from tasker_cluster.project import Project

        explicit = Path(self.project_dir) if self.project_dir is not None else None
        return self.shape.run(Project.discover(explicit), self.values)


def recognise(argv: Sequence[str]) -> FastCall | None:
    """The call `argv` (without the program name) asks for, or None when Typer must read it."""
    project_dir, debug, position = _root_options(argv)
    if position is None or position >= len(argv) or argv[position] not in COMMANDS:
        return None
    shape = COMMANDS[argv[position]]
    values = _command_values(shape, argv[position + 1 :])
    if values is None:
        return None
    return FastCall(shape, project_dir, debug, values)


def _root_options(argv: Sequence[str]) -> tuple[str | None, bool, int | None]:
    """`--project-dir DIR` and `--debug` before the command: (dir, debug, position of the command)."""
    project_dir: str | None = None
    debug = False
    position = 0
    while position < len(argv) and argv[position].startswith("-"):
        word = argv[position]
        if word == "--debug" and not debug:
            debug = True
        elif word == "--project-dir" and project_dir is None and position + 1 < len(argv):
            position += 1
            project_dir = argv[position]
        elif word.startswith("--project-dir=") and project_dir is None:
            project_dir = word.partition("=")[2]
        else:
            return None, False, None
        position += 1
    if project_dir is not None and (not project_dir or project_dir.startswith("-")):
        return None, False, None
    return project_dir, debug, position


def _command_values(shape: CommandShape, words: Sequence[str]) -> Values | None:
    values = shape.defaults()
    names: list[str] = []
    seen: set[str] = set()
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if not word.startswith("-"):
            names.append(word)
            continue
        spelling, has_value, attached = word.partition("=")
        option = shape.option(spelling)
        if option is None or option.dest in seen:
            return None
        seen.add(option.dest)
        if isinstance(option, Flag):
            if has_value:
                return None
            values[option.dest] = spelling in option.names
            continue
        if not has_value:
            if position >= len(words):
                return None
            attached = words[position]
            position += 1
        number = _number(option, attached)
        if number is None:
            return None
        values[option.dest] = number
    if (shape.names == "none" and names) or (shape.names == "required" and not names):
        return None
    values["names"] = names
    return values


def _number(option: Number, text: str) -> int | float | None:
    pattern = _INT if option.kind is int else _FLOAT
    if not pattern.fullmatch(text):
        return None
    value = option.kind(text)
    return value if value >= option.minimum else None
