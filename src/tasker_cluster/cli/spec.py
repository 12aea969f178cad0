"""How a command's parameters are declared: plain data, read by the Typer app and by the fast path alike.

Each command is declared once (`cli/commands.py`). Typer builds its parser, help and errors from the declaration
(`cli/typer_app.py`); the fast path (`cli/fast.py`) reads the plain forms of the commands with a speed bar from the
same declaration, without importing Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Flag(NamedTuple):
    """A boolean option: `names` set it (`--json`, `--yes`/`-y`), `off` clear it (`--no-wait`)."""

    dest: str
    names: tuple[str, ...]
    help: str
    default: bool = False
    off: tuple[str, ...] = ()


class Value(NamedTuple):
    """An option taking one value (`--timeout 2`, `--timeout=2`): a number at least `min`, a path, or a word.

    Help names the value by `metavar`, by default after its kind: N (int), S (float: every one is in seconds),
    DIR (path), TEXT (word).
    """

    dest: str
    names: tuple[str, ...]
    kind: type[int] | type[float] | type[Path] | type[str]
    help: str
    default: int | float | Path | str | None = None
    min: float | None = None
    envvar: str | None = None
    metavar: str | None = None


class Positional(NamedTuple):
    """Words that are not options: one (`TIER`) or `many` (`NAME...`), `required` or not. `completes` names what
    shell completion offers for them: "instances" (instance and service names) or "tiers"."""

    dest: str
    metavar: str
    help: str
    many: bool = False
    required: bool = False
    completes: str | None = None


Param = Flag | Value | Positional


class Command(NamedTuple):
    """A command: its name (and group, e.g. `db`), what it does, its parameters, and the body that runs it.

    `run` names the body as "module:function" under `tasker_cluster.cli`; it is called as
    `function(project, **values)` and returns the exit code. `fast`: the fast path may run its plain forms.
    `instead`: options of other commands a user may try here, each with the fix its "no such option" error gives.
    """

    name: str
    help: str
    run: str
    params: tuple[Param, ...] = ()
    group: str | None = None
    fast: bool = False
    instead: tuple[tuple[str, str], ...] = ()

    def body(self) -> object:
        from importlib import import_module

        module, _, function = self.run.partition(":")
        return getattr(import_module(f"tasker_cluster.cli.{module}"), function)
