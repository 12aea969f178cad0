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
    """.env's keys that have a value; {} when there is no .env. python-dotenv is imported only when there is one."""
    if not project.env_file.is_file():
        return {}
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(project.env_file).items() if value is not None}


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
        raise ConfigError(f"{path} is not valid TOML: {error}", "fix the syntax at the line and column named") from None
