"""Task templates: TOML files under config/templates, each a DAG of named steps, validated when loaded.

Loading happens once at start-up, never inside a request's transaction (the seed's pool deadlock came from
loading templates while holding a connection).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasker_cluster.errors import ConfigError
from tasker_cluster.services.common.queues import step_queue

_IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class StepTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_IDENTIFIER, max_length=63)
    handler: str = Field(min_length=1)
    depends_on: tuple[str, ...] = ()
    max_attempts: int = Field(3, ge=1, le=100)
    retry_backoff_ms: int = Field(100, ge=0, le=3_600_000)
    retry_backoff_factor: float = Field(2.0, ge=1.0, le=10.0)


class TaskTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = Field(pattern=_IDENTIFIER, max_length=30)
    name: str = Field(pattern=_IDENTIFIER, max_length=63)
    version: str = Field("1.0.0", pattern=r"^\d+(\.\d+){0,3}$")
    description: str = ""
    steps: tuple[StepTemplate, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_form_a_dag(self) -> TaskTemplate:
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique, repeated: {', '.join(duplicates)}")
        for step in self.steps:
            unknown = [dep for dep in step.depends_on if dep not in names]
            if unknown:
                raise ValueError(f"step {step.name!r} depends on unknown steps: {', '.join(unknown)}")
        _check_acyclic({step.name: step.depends_on for step in self.steps})
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.name, self.version)

    @property
    def queue(self) -> str:
        return step_queue(self.namespace)

    @cached_property
    def steps_json(self) -> str:
        """The step rows `create_task` expands, serialized once per template rather than once per request."""
        return json.dumps(
            [
                {
                    "name": step.name,
                    "position": position,
                    "handler": step.handler,
                    "depends_on": list(step.depends_on),
                    "max_attempts": step.max_attempts,
                    "backoff_ms": step.retry_backoff_ms,
                    "backoff_factor": step.retry_backoff_factor,
                }
                for position, step in enumerate(self.steps)
            ]
        )

    def summary(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _check_acyclic(graph: dict[str, tuple[str, ...]]) -> None:
    done: set[str] = set()
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            raise ValueError(f"steps form a cycle: {' -> '.join(cycle)}")
        visiting.append(name)
        for dependency in graph[name]:
            visit(dependency)
        visiting.pop()
        done.add(name)

    for name in graph:
        visit(name)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class TemplateCatalog:
    """Every loaded template, looked up by namespace, name and (optionally) version."""

    templates: tuple[TaskTemplate, ...]

    def find(self, namespace: str, name: str, version: str | None = None) -> TaskTemplate | None:
        """The template asked for; without a version, the highest one."""
        matches = [t for t in self.templates if t.namespace == namespace and t.name == name]
        if version is not None:
            return next((t for t in matches if t.version == version), None)
        return max(matches, key=lambda t: _version_key(t.version), default=None)

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({t.namespace for t in self.templates}))


def load_template(path: Path, handler_names: frozenset[str]) -> TaskTemplate:
    try:
        data = tomllib.loads(path.read_text())
        template = TaskTemplate.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read task template {path}: {error}", "fix the file's TOML syntax") from error
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'template'}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"task template {path} is not valid: {problems}", "correct the fields named") from error
    unknown = sorted({step.handler for step in template.steps} - handler_names)
    if unknown:
        raise ConfigError(
            f"task template {path} names handlers that do not exist: {', '.join(unknown)}",
            f"use one of: {', '.join(sorted(handler_names))}",
        )
    return template


def load_templates(folder: Path, handler_names: frozenset[str]) -> TemplateCatalog:
    """Every `*.toml` under `folder` (any depth); two files declaring the same namespace/name/version is an error."""
    if not folder.is_dir():
        raise ConfigError(
            f"task template folder {folder} does not exist",
            "run the service from the project folder, or pass --templates DIR (or set TASKER_TEMPLATES_DIR)",
        )
    templates: dict[tuple[str, str, str], TaskTemplate] = {}
    for path in sorted(folder.rglob("*.toml")):
        template = load_template(path, handler_names)
        if template.key in templates:
            raise ConfigError(
                f"task template {'/'.join(template.key)} is defined twice (again in {path})",
                "give each file its own namespace/name/version",
            )
        templates[template.key] = template
    if not templates:
        raise ConfigError(f"no task templates (*.toml) under {folder}", "add one, or pass --templates DIR")
    return TemplateCatalog(tuple(templates.values()))
