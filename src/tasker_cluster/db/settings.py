"""The `[database]` table of config/cluster.toml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PORT = 5433


class DatabaseSettings(BaseModel):
    """How the cluster gets its database. Validated as part of the topology file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["local", "none"] = "local"
    port: int = Field(DEFAULT_PORT, ge=1024, le=65535)
    name: str = Field("tasker", pattern=r"^[a-z_][a-z0-9_]*$")
    max_connections: int = Field(500, ge=20, le=10000)
