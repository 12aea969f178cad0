"""The `[database]` table of config/cluster.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasker_cluster.config.defaults import DEFAULT_MAX_CONNECTIONS, DEFAULT_NAME, DEFAULT_PORT
from tasker_cluster.errors import ConfigError


class DatabaseSettings(BaseModel):
    """How the cluster gets its database. Validated as part of the topology file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["local", "none"] = "local"
    port: int = Field(DEFAULT_PORT, ge=1024, le=65535)
    name: str = Field(DEFAULT_NAME, pattern=r"^[a-z_][a-z0-9_]*$")
    max_connections: int = Field(DEFAULT_MAX_CONNECTIONS, ge=20, le=10000)


def load_database_settings(config_file: Path) -> DatabaseSettings:
    """The `[database]` table, defaults when the file or the table is absent; ConfigError when it is invalid."""
    try:
        with config_file.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return DatabaseSettings()
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_file} is not valid TOML: {error}", "fix the syntax at the position named") from None
    try:
        return DatabaseSettings.model_validate(document.get("database", {}))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'database'}: {e['msg']}" for e in error.errors())
        raise ConfigError(
            f"invalid [database] table in {config_file}: {problems}",
            "fix the [database] table (keys: mode, port, name, max_connections)",
        ) from None
