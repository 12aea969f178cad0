"""How many instances each service runs and from which port: counts from flag > process env > .env > file.

Free of pydantic and of the topology models: the validated topology and status-quick's cheap path both use it,
so they can never disagree about instance names and ports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from tasker_cluster.errors import ConfigError

Role = Literal["orchestration", "worker"]
ROLES: tuple[Role, ...] = ("orchestration", "worker")
RANGE_SIZE = 10
DEFAULT_BASE_PORTS: dict[Role, int] = {"orchestration": 8080, "worker": 8100}
COUNT_ENV: dict[Role, str] = {
    "orchestration": "TASKER_ORCHESTRATION_INSTANCES",
    "worker": "TASKER_WORKER_INSTANCES",
}
FLAGS: dict[Role, str] = {"orchestration": "--orchestration", "worker": "--workers"}

Overrides = Mapping[Role, tuple[int, str] | None]


class ServiceShape(NamedTuple):
    """The part of a `[services.NAME]` table that decides names and ports."""

    name: str
    role: Role
    count: int
    base_port: int | None


class Placement(NamedTuple):
    """A service's effective count, where that count came from, and its first port."""

    service: str
    role: Role
    count: int
    count_source: str
    base_port: int

    def instance_names(self) -> list[str]:
        return [f"{self.service}-{index}" for index in range(1, self.count + 1)]


def place_services(config_file: Path, shapes: Sequence[ServiceShape], overrides: Overrides) -> list[Placement]:
    """Counts and base ports in file order; types of one role without base_port share the role's range in order."""
    counts = _effective_counts(config_file, shapes, overrides)
    cursor = dict(DEFAULT_BASE_PORTS)
    placements = []
    for shape in shapes:
        count, source = counts[shape.name]
        base = shape.base_port if shape.base_port is not None else cursor[shape.role]
        if shape.base_port is None:
            cursor[shape.role] += count
        placements.append(Placement(shape.name, shape.role, count, source, base))
    return placements


def resolve_role_counts(env_file: Path, flags: Mapping[Role, int | None]) -> dict[Role, tuple[int, str] | None]:
    """Per role, the overriding total and where it came from, or None when the topology file decides."""
    dotenv: dict[str, str | None] | None = None
    counts: dict[Role, tuple[int, str] | None] = {}
    for role in ROLES:
        flag = flags.get(role)
        variable = COUNT_ENV[role]
        if flag is not None:
            source = f"{FLAGS[role]} {flag}"
            counts[role] = (_non_negative(flag, source), source)
        elif os.environ.get(variable, "").strip():
            counts[role] = _parse(os.environ[variable], f"{variable} in the environment")
        else:
            if dotenv is None:
                dotenv = _read_dotenv(env_file)
            value = dotenv.get(variable)
            counts[role] = _parse(value, f"{variable} in {env_file}") if value and value.strip() else None
    return counts


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` over `parts` in order, earlier parts taking the remainder: 5 over 2 -> [3, 2]."""
    if parts == 0:
        return []
    share, extra = divmod(total, parts)
    return [share + (1 if index < extra else 0) for index in range(parts)]


def _effective_counts(
    config_file: Path, shapes: Sequence[ServiceShape], overrides: Overrides
) -> dict[str, tuple[int, str]]:
    counts = {shape.name: (shape.count, f"services.{shape.name}.count") for shape in shapes}
    for role in ROLES:
        override = overrides.get(role)
        if override is None:
            continue
        total, source = override
        names = [shape.name for shape in shapes if shape.role == role]
        if total and not names:
            raise ConfigError(
                f"{source} asks for {total} {role} instances but {config_file} defines no {role} service",
                f'add a [services.NAME] table with role = "{role}", or unset {COUNT_ENV[role]}',
            )
        for name, share in zip(names, split_evenly(total, len(names)), strict=True):
            counts[name] = (share, source)
    return counts


def _read_dotenv(env_file: Path) -> dict[str, str | None]:
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values

    return dict(dotenv_values(env_file))


def _parse(text: str, source: str) -> tuple[int, str]:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"{source} is {text!r}, not a whole number", "set it to an instance count, e.g. 2") from None
    return _non_negative(value, source), source


def _non_negative(value: int, source: str) -> int:
    if value < 0:
        raise ConfigError(f"{source}: an instance count cannot be negative", "use 0 or more")
    return value
