"""Finding the PostgreSQL server binaries: pg_config, the distribution's versioned folders, then PATH."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from tasker_cluster.errors import ClusterError

# os.pathsep-separated folders or globs that replace the default search roots (tests point it at an empty folder).
SEARCH_ENV = "TASKER_PG_BINDIR_SEARCH"
DEFAULT_SEARCH_ROOTS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")
REQUIRED = ("initdb", "pg_ctl", "postgres")


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in REQUIRED)


def _version_key(folder: str) -> tuple[int, ...]:
    """Newest first needs numeric order: /usr/lib/postgresql/9.6 must sort below 15."""
    numbers = re.findall(r"\d+", folder)
    return tuple(int(n) for n in numbers)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip())


def _search_roots() -> list[str]:
    override = os.environ.get(SEARCH_ENV)
    if override is not None:
        return [root for root in override.split(os.pathsep) if root]
    return list(DEFAULT_SEARCH_ROOTS)


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres; ClusterError naming every place searched."""
    searched: list[str] = []
    from_pg_config = _pg_config_bindir()
    searched.append(f"pg_config --bindir ({from_pg_config or 'pg_config not on PATH'})")
    if from_pg_config is not None and _has_server(from_pg_config):
        return from_pg_config
    for root in _search_roots():
        searched.append(root)
        for folder in sorted(glob.glob(root), key=_version_key, reverse=True):
            if _has_server(Path(folder)):
                return Path(folder)
    initdb = shutil.which("initdb")
    searched.append("PATH")
    if initdb is not None and _has_server(Path(initdb).parent):
        return Path(initdb).parent
    raise ClusterError(
        f"no PostgreSQL server binaries ({', '.join(REQUIRED)}) found; searched: {'; '.join(searched)}",
        "install the distribution's `postgresql` package (Debian/Ubuntu: apt-get install postgresql), "
        "or set DATABASE_URL to an existing server",
    )
