"""Step 3 of loading: how many instances each role runs. A flag beats the environment, which beats .env, which
beats the counts in config/cluster.toml; each count remembers where it came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from tasker_cluster.config.model import ROLES, CountOrigin, Role
from tasker_cluster.config.sources import Sources
from tasker_cluster.errors import ConfigError

COUNT_ENV: dict[Role, str] = {
    "orchestration": "TASKER_ORCHESTRATION_INSTANCES",
    "worker": "TASKER_WORKER_INSTANCES",
}
FLAGS: dict[Role, str] = {"orchestration": "--orchestration", "worker": "--workers"}


class CountOverride(NamedTuple):
    """A role's total from outside the file, split over the role's services in file order."""

    total: int
    origin: CountOrigin
    source: str


def resolve_counts(
    sources: Sources, flags: Mapping[Role, int | None], environ: Mapping[str, str] = os.environ
) -> dict[Role, CountOverride | None]:
    """Per role, the overriding total, or None when the file's counts stand; ConfigError for a bad value."""
    counts: dict[Role, CountOverride | None] = {}
    for role in ROLES:
        flag, variable = flags.get(role), COUNT_ENV[role]
        if flag is not None:
            source = f"{FLAGS[role]} {flag}"
            counts[role] = CountOverride(_non_negative(flag, role, "flag", source), "flag", source)
        elif environ.get(variable, "").strip():
            counts[role] = _parse(environ[variable], role, "environment", f"{variable} in the environment")
        elif sources.dotenv.get(variable, "").strip():
            source = f"{variable} in {sources.project.env_file}"
            counts[role] = _parse(sources.dotenv[variable], role, ".env", source)
        else:
            counts[role] = None
    return counts


def lower_fix(role: Role, origin: CountOrigin, source: str) -> str:
    """How to lower a count where it was set: the fix for a count that does not fit."""
    if origin == "flag":
        return f"pass a lower {FLAGS[role]}"
    if origin == "file":
        return f"lower {source}"
    return f"lower or unset {source}"


def unset_fix(role: Role, origin: CountOrigin, source: str) -> str:
    """How to take an overriding count away where it was set."""
    if origin == "flag":
        return f"leave out {FLAGS[role]}"
    return f"unset {source}" if origin == "environment" else f"remove {source}"


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` over `parts` in order, earlier parts taking the remainder: 5 over 2 -> [3, 2]."""
    if parts == 0:
        return []
    share, extra = divmod(total, parts)
    return [share + (1 if index < extra else 0) for index in range(parts)]


def _parse(text: str, role: Role, origin: CountOrigin, source: str) -> CountOverride:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(
            f"{source} is {text!r}, not a whole number",
            f"set it to an instance count, e.g. 2, or {unset_fix(role, origin, source)}",
        ) from None
    return CountOverride(_non_negative(value, role, origin, source), origin, source)


def _non_negative(value: int, role: Role, origin: CountOrigin, source: str) -> int:
    if value < 0:
        raise ConfigError(
            f"{source}: an instance count cannot be negative",
            f"set it to 0 or more, or {unset_fix(role, origin, source)}",
        )
    return value
