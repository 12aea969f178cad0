"""The plain forms of the commands with a speed bar, read straight from argv by their declarations, without Typer.

Typer costs more CPU per call than status-quick's own work (bench/README.md, "CLI"). This reader takes
`[--project-dir DIR] [--debug] COMMAND [NAMES] [OPTIONS]` for the commands declared `fast`, with the parameters
declared for them (`cli/commands.py`, the same declaration Typer is built from), and runs the same bodies. Anything
it is not sure of (help, an unknown or repeated option, a value Typer might read differently or refuse) returns
None, and Typer parses the line and words any error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from tasker_cluster.cli.commands import COMMANDS, ROOT
from tasker_cluster.cli.spec import Command, Flag, Param, Positional, Value

# Values both parsers surely read alike; anything else (signs, exponents, "inf", "1_000") is left to Typer.
_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_FAST = {command.name: command for command in COMMANDS if command.fast and command.group is None}


class FastCall(NamedTuple):
    """A recognised command line: the command, the root options' values, and the command's values."""

    command: Command
    root: dict[str, Any]
    values: dict[str, Any]


def recognise(argv: Sequence[str]) -> FastCall | None:
    """The call `argv` (without the program name) asks for, or None when Typer must read it."""
    root, position = _read(ROOT, argv, until_word=True)
    if root is None or position >= len(argv) or argv[position] not in _FAST:
        return None
    if root["project_dir"] is not None and (not str(root["project_dir"]) or str(root["project_dir"]).startswith("-")):
        return None
    command = _FAST[argv[position]]
    values, end = _read(command.params, argv[position + 1 :], until_word=False)
    if values is None or end != len(argv) - position - 1:
        return None
    return FastCall(command, root, values)


def _read(params: Sequence[Param], words: Sequence[str], *, until_word: bool) -> tuple[dict[str, Any] | None, int]:
    """Values by dest and the position reading stopped at (the first plain word, with `until_word`)."""
    values: dict[str, Any] = {p.dest: _default(p) for p in params}
    positional = next((p for p in params if isinstance(p, Positional)), None)
    if any(isinstance(p, Positional) and p is not positional for p in params):
        return None, 0
    seen: set[str] = set()
    position = 0
    while position < len(words):
        word = words[position]
        if not word.startswith("-") or word == "-":
            if until_word:
                break
            if positional is None or not positional.many:
                return None, 0
            values[positional.dest].append(word)
            position += 1
            continue
        position += 1
        spelling, has_value, attached = word.partition("=")
        param = _param(params, spelling)
        if param is None or param.dest in seen:
            return None, 0
        seen.add(param.dest)
        if isinstance(param, Flag):
            if has_value:
                return None, 0
            values[param.dest] = spelling in param.names
            continue
        if not has_value:
            if position >= len(words):
                return None, 0
            attached = words[position]
            position += 1
        value = _value(param, attached)
        if value is None:
            return None, 0
        values[param.dest] = value
    if positional is not None and positional.required and not values[positional.dest]:
        return None, 0
    return values, position


def _default(param: Param) -> Any:
    if isinstance(param, Positional):
        return [] if param.many else None
    return param.default


def _param(params: Sequence[Param], spelling: str) -> Flag | Value | None:
    for param in params:
        if isinstance(param, Flag) and spelling in (*param.names, *param.off):
            return param
        if isinstance(param, Value) and spelling in param.names:
            return param
    return None


def _value(param: Value, text: str) -> Any:
    if param.kind is int or param.kind is float:
        pattern = _INT if param.kind is int else _FLOAT
        if not pattern.fullmatch(text):
            return None
        number = param.kind(text)
        return number if param.min is None or number >= param.min else None
    if not text or text.startswith("-"):
        return None
    return param.kind(text)
