"""The project's exception family: every expected failure carries what went wrong, how to fix it, and an exit code.

The core raises these and never prints or exits; the CLI prints `error: MESSAGE` and `  fix: FIX` and exits with
`exit_code`, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class ClusterError(Exception):
    """An expected failure: exit code 1 unless given."""

    exit_code: int = 1

    def __init__(self, message: str, fix: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class ConfigError(ClusterError):
    """Bad configuration (config/cluster.toml, .env, templates): exit code 2, like a usage error."""

    exit_code = 2


class UnknownInstance(ClusterError):
    """Names that are neither an instance nor a service of the cluster: exit code 2, listing the valid names."""

    exit_code = 2

    def __init__(self, unknown: Sequence[str], instances: Sequence[str], services: Sequence[str] = ()) -> None:
        # A service name selects all its instances, so the fix offers both kinds, services first (fewer, and what
        # `--orchestration`-style scripts usually mean).
        valid = [f"services {', '.join(services)}"] if services else []
        valid.append(f"instances {', '.join(instances)}" if instances else "(no instance configured or running)")
        super().__init__(f"unknown instance {', '.join(unknown)}", f"use one of these names: {'; '.join(valid)}")
        self.unknown = list(unknown)
