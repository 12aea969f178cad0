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
    """Names that are neither an instance nor a service of the cluster: exit code 2, the closest valid names first
    (as Click suggests commands: difflib's close matches), then all of them."""

    exit_code = 2

    def __init__(self, unknown: Sequence[str], instances: Sequence[str], services: Sequence[str] = ()) -> None:
        # A service name selects all its instances, so the fix offers both kinds, services first (fewer, and what
        # `--orchestration`-style scripts usually mean).
        valid = [f"services {', '.join(services)}"] if services else []
        valid.append(f"instances {', '.join(instances)}" if instances else "(no instance configured or running)")
        fix = f"use one of these names: {'; '.join(valid)}"
        close = close_names(unknown, [*services, *instances])
        if close:
            fix = f"did you mean {close[0] if len(close) == 1 else 'one of ' + ', '.join(close)}? Otherwise {fix}"
        super().__init__(f"unknown instance {', '.join(unknown)}", fix)
        self.unknown = list(unknown)


def close_names(unknown: Sequence[str], valid: Sequence[str]) -> list[str]:
    """The names in `valid` closest to each of `unknown` (difflib's ratio of at least 0.6, at most three each, the
    closest first), without repeats."""
    from difflib import get_close_matches

    return list(dict.fromkeys(match for name in unknown for match in get_close_matches(name, valid, n=3)))
