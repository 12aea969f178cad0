"""The schema of config/cluster.toml (pydantic) and the one clear error per mistake it makes.

Only a topology that is not in the cache (`topology_cache`) is validated here: pydantic costs ~80 ms to import,
a third of a `start-all`'s own CPU time.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tasker_cluster.config.database import DatabaseSettings
from tasker_cluster.config.placement import RANGE_SIZE, Role
from tasker_cluster.errors import ConfigError

PLACEHOLDERS = ("python", "port", "index", "name", "project_dir")

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")]
UrlPath = Annotated[str, StringConstraints(pattern=r"^/")]


class ServiceTable(BaseModel):
    """One `[services.NAME]` table as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    role: Role
    count: int = Field(ge=0)
    base_port: int | None = Field(None, ge=1024, le=65536 - RANGE_SIZE)
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    health_path: UrlPath = "/health"
    ready_path: UrlPath = "/health/ready"
    startup_timeout: float = Field(30.0, gt=0)
    stop_grace: float = Field(10.0, gt=0)


class TopologyFile(BaseModel):
    """The whole file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    services: dict[ServiceName, ServiceTable] = Field(min_length=1)


def parse_topology_file(path: Path, text: str) -> TopologyFile:
    """`text` (the content of `path`) validated; ConfigError naming the file, the key and the fix."""
    parsed = _validate(path, _parse_toml(path, text))
    _check_placeholders(path, parsed)
    return parsed


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}", "fix the syntax at the line and column named") from None


def _validate(path: Path, data: dict[str, Any]) -> TopologyFile:
    try:
        return TopologyFile.model_validate(data)
    except ValidationError as error:
        raise _config_error(path, error) from None


def _config_error(path: Path, error: ValidationError) -> ConfigError:
    problems = error.errors(include_url=False)
    lines = [f"{_key_path(problem['loc'])}: {_describe(problem)}" for problem in problems]
    if len(lines) == 1:
        return ConfigError(f"{path}: {lines[0]}", _fix_for(problems[0]))
    listed = "\n  ".join(lines)
    return ConfigError(f"{path} has {len(lines)} problems:\n  {listed}", "correct each key listed above")


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(problem: Mapping[str, Any]) -> str:
    if problem["type"] == "extra_forbidden":
        return "unknown key"
    if problem["type"] == "missing":
        return "required key missing"
    return str(problem["msg"])


def _fix_for(problem: Mapping[str, Any]) -> str:
    key = _key_path(problem["loc"])
    if problem["type"] == "extra_forbidden":
        table = key.rpartition(".")[0] or "the top level"
        valid = _valid_keys(problem["loc"][:-1])
        return f"remove `{key}` or correct its spelling; {table} accepts: {', '.join(valid)}"
    if problem["type"] == "missing":
        return f"add `{key}` (see the comments in config/cluster.toml)"
    if problem["loc"][:1] == ("services",) and "[key]" in problem["loc"]:
        return "name services in lower case letters and digits separated by single dashes, e.g. worker-a"
    return f"correct `{key}` (see the comments in config/cluster.toml)"


def _valid_keys(table_loc: tuple[int | str, ...]) -> list[str]:
    if not table_loc:
        return list(TopologyFile.model_fields)
    if table_loc == ("database",):
        return list(DatabaseSettings.model_fields)
    return list(ServiceTable.model_fields)


def _check_placeholders(path: Path, parsed: TopologyFile) -> None:
    for name, table in parsed.services.items():
        values = [(f"services.{name}.command[{i}]", arg) for i, arg in enumerate(table.command)]
        values += [(f"services.{name}.env.{key}", value) for key, value in table.env.items()]
        for key, value in values:
            _check_template(path, key, value)


def _check_template(path: Path, key: str, template: str) -> None:
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, _, _ in Formatter().parse(template) if field is not None]
    except ValueError as error:
        raise ConfigError(
            f"{path}: {key}: bad placeholder syntax in {template!r} ({error})",
            f"placeholders are {allowed}; write {{{{ and }}}} for literal braces",
        ) from None
    for field in fields:
        if field not in PLACEHOLDERS:
            raise ConfigError(
                f"{path}: {key}: unknown placeholder {{{field}}} in {template!r}",
                f"use one of {allowed}; write {{{{ and }}}} for literal braces",
            )
