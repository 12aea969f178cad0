"""`cluster config`'s document (TOML, or JSON), and the notes that make every count override visible."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tasker_cluster.ui.console import write_err, write_out

if TYPE_CHECKING:
    from tasker_cluster.config.model import ClusterConfig


def print_topology(document: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        write_out(json.dumps(document, indent=2) + "\n")
        return
    import tomli_w

    write_out(tomli_w.dumps(document))


def count_notes(config: ClusterConfig, *, with_flags: bool = False) -> list[str]:
    """One line per role whose count does not come from config/cluster.toml, naming where it comes from. Without
    `with_flags`, a count given on this command line is not repeated back: only the environment's and .env's, which
    a user may have forgotten, are said."""
    return [
        f"{count.count} {count.role} instances from {count.source} (config/cluster.toml says {count.file_count}); "
        "`cluster config` shows where each count comes from"
        for count in config.role_counts()
        if count.overridden and (with_flags or count.origin != "flag")
    ]


def print_count_notes(config: ClusterConfig, *, with_flags: bool = False) -> None:
    """`count_notes` as `note:` lines on stderr."""
    for note in count_notes(config, with_flags=with_flags):
        write_err(f"note: {note}\n")
