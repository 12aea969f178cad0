"""Instance counts per role: a flag beats the process environment, which beats the project's .env.

Kept free of pydantic and of the topology models so that `status-quick` can compute instance names cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from tasker_cluster.errors import ConfigError

Role = Literal["orchestration", "worker"]
ROLES: tuple[Role, ...] = ("orchestration", "worker")
COUNT_ENV: dict[Role, str] = {
    "orchestration": "TASKER_ORCHESTRATION_INSTANCES",
    "worker": "TASKER_WORKER_INSTANCES",
}
FLAGS: dict[Role, str] = {"orchestration": "--orchestration", "worker": "--workers"}


def resolve_role_counts(env_file: Path, flags: Mapping[Role, int | None]) -> dict[Role, tuple[int, str] | None]:
    """Per role, the overriding total and where it came from, or None when the topology file decides."""
    dotenv: dict[str, str | None] | None = None
    counts: dict[Role, tuple[int, str] | None] = {}
    for role in ROLES:
        flag = flags.get(role)
        variable = COUNT_ENV[role]
        if flag is not None:
            counts[role] = (_non_negative(flag, f"{FLAGS[role]} {flag}"), f"{FLAGS[role]} {flag}")
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


def _read_dotenv(env_file: Path) -> dict[str, str | None]:
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values

    return dict(dotenv_values(env_file))


def _parse(text: str, source: str) -> tuple[int, str]:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(
            f"{source} is {text!r}, not a whole number", "set it to an instance count such as 2"
        ) from None
    return _non_negative(value, source), source


def _non_negative(value: int, source: str) -> int:
    if value < 0:
        raise ConfigError(f"{source}: an instance count cannot be negative", "use 0 or more")
    return value
