"""Validated topologies kept beside the project (`.data/topology.json`), served while their sources are unchanged.

Validating config/cluster.toml needs pydantic, ~80 ms to import: a third of what `start-all` itself costs, and
CPU the instances it starts compete for. A topology depends on the file, the counts (flag, environment, `.env`),
the interpreter and project folder its placeholders name, and the code that derives it: all of them, in full (no
hash to collide), form the entry's `sources`, and an entry is served only when they equal the present ones.
Only topologies that validated are stored; a broken file is validated, and reported, every time.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tasker_cluster.config.placement import COUNT_ENV
from tasker_cluster.project import Project

CACHE_FILE = "topology.json"
_FORMAT = 1
_PACKAGE = Path(__file__).parent
# The modules whose code turns the sources into a topology: an edit to any of them retires every entry.
_CODE = ("load.py", "schema.py", "placement.py", "database.py", "defaults.py")

Sources = dict[str, Any]


def cache_path(project: Project) -> Path:
    return project.state_dir / CACHE_FILE


def current_sources(project: Project, flags: dict[str, int | None]) -> Sources | None:
    """Everything the topology is derived from, as it is now; None when the file cannot be read (the validating
    load then reports why)."""
    try:
        config = project.config_file.read_text()
        dotenv = project.env_file.read_text() if project.env_file.is_file() else None
        code = [[name, *_signature(_PACKAGE / name)] for name in _CODE]
    except (OSError, UnicodeDecodeError):
        return None
    return {
        "format": _FORMAT,
        "code": code,
        "config": config,
        "dotenv": dotenv,
        "environ": {variable: os.environ.get(variable) for variable in COUNT_ENV.values()},
        "flags": flags,
        "python": sys.executable,
        "root": str(project.root),
    }


def lookup(project: Project, sources: Sources) -> dict[str, Any] | None:
    """The stored topology for exactly these sources, or None."""
    try:
        with cache_path(project).open() as file:
            entry = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("sources") != sources:
        return None
    topology = entry.get("topology")
    return topology if isinstance(topology, dict) else None


def store(project: Project, sources: Sources, topology: dict[str, Any]) -> None:
    """Keep `topology` for `sources`; atomic, so that concurrent starts never read half an entry. A project whose
    state folder cannot be written simply validates every time."""
    import tempfile

    target = cache_path(project)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".topology.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w") as file:
            json.dump({"sources": sources, "topology": topology}, file)
        os.replace(temp, target)
    except OSError:
        return


def _signature(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_mtime_ns, status.st_size]
