"""Step 1 of loading: read config/cluster.toml (tomllib) and .env (python-dotenv), each once, as they are."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from tasker_cluster.errors import ConfigError
from tasker_cluster.project import Project

# The topology a fresh clone runs, shipped with the package: `make` copies it to config/cluster.toml once, and from
# then on that file is the user's (git ignores it), so tests read this one.
DEFAULT_TOPOLOGY = Path(__file__).with_name("default_topology.toml")


class Sources(NamedTuple):
    """The project's configuration files as parsed: the TOML document, and .env's keys that have a value."""

    project: Project
    document: dict[str, Any]
    dotenv: dict[str, str]


def read_sources(project: Project, *, config_required: bool = True) -> Sources:
    """Both files, parsed; ConfigError naming the file when one cannot be read or parsed.

    Without `config_required`, a missing config/cluster.toml reads as an empty document (every default).
    """
    return Sources(project, _read_toml(project, config_required), read_dotenv(project))


def read_dotenv(project: Project) -> dict[str, str]:
    """.env's keys that have a value; {} when there is no .env. python-dotenv is imported only when there is one.

    ConfigError naming each line python-dotenv cannot parse: docker compose refuses such a file too, rather than
    run with the keys it could read (python-dotenv would skip the line and log a bare warning per read).
    """
    if not project.env_file.is_file():
        return {}
    from io import StringIO

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = project.env_file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {project.env_file}: {error}", "make it a readable UTF-8 text file") from None
    bad = [binding.original for binding in parse_stream(StringIO(text)) if binding.error]
    if bad:
        raise _unparseable(project, [(line.line, line.string.strip().splitlines()[0]) for line in bad])
    return {key: value for key, value in dotenv_values(stream=StringIO(text)).items() if value is not None}


def _unparseable(project: Project, lines: list[tuple[int, str]]) -> ConfigError:
    shape = 'KEY=VALUE (quote a value with spaces: KEY="a b")'
    if len(lines) == 1:
        number, text = lines[0]
        return ConfigError(
            f"{project.env_file} line {number} could not be parsed: {text}",
            f"write it as {shape}, start it with # to make it a comment, or delete it",
        )
    listed = "".join(f"\n  line {number} could not be parsed: {text}" for number, text in lines)
    return ConfigError(
        f"{project.env_file} has {len(lines)} lines that could not be parsed:{listed}",
        f"write each as {shape}, start it with # to make it a comment, or delete it",
    )


def _read_toml(project: Project, required: bool) -> dict[str, Any]:
    path = project.config_file
    try:
        text = path.read_text()
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(
            f"topology file {path} not found",
            f"run from a project folder, pass --project-dir, or start one from the default topology: "
            f"mkdir -p {path.parent} && cp {DEFAULT_TOPOLOGY} {path}",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}", "make it a readable UTF-8 text file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        quoted = _quote(text, str(error))
        raise ConfigError(
            f"{path} is not valid TOML: {error}{quoted}", "fix the syntax at the line and column named"
        ) from None


def _quote(text: str, message: str) -> str:
    """The line `message` points at, as rustc and ruff show it: "\n  LINE | text\n       | ^" under the column; ""
    when the message names no line. tomllib (3.11) puts the place only in its message, as "(at line L, column C)",
    1-based; its `lineno`/`colno` attributes arrive in Python 3.14."""
    import re

    place = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if place is None:
        return ""
    number, column = int(place[1]), int(place[2])
    lines = text.splitlines()
    if not 1 <= number <= len(lines):
        return ""  # past the end: the file ended where more was expected, and the message says so
    line = lines[number - 1].expandtabs(1)
    margin = " " * len(str(number))
    return f"\n  {number} | {line}\n  {margin} | {' ' * (min(column, len(line) + 1) - 1)}^"
