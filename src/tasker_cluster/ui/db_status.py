"""`cluster db status`: one label-value row per fact, or the JSON object."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tasker_cluster.ui.console import print_table, write_out

if TYPE_CHECKING:
    from tasker_cluster.db.status import DatabaseStatus


def print_database_status(report: DatabaseStatus, *, as_json: bool) -> None:
    if as_json:
        write_out(json.dumps(report.to_json(), indent=2) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    state = Text("running", style="green") if report.running else Text("stopped", style="red")
    if report.external and not report.running:
        state = Text("unreachable", style="red")
    rows = [
        ("database", Text.assemble(f"{report.kind} — ", state)),
        ("url", report.url),
        ("pid", report.pid),
        ("port", report.port),
        ("version", report.version),
        ("data folder", report.data_dir),
        ("passwords", report.password_file),
        ("size", None if report.size_bytes is None else f"{report.size_bytes / 1_048_576:.1f} MB"),
        ("connections", None if report.connections is None else f"{report.connections} / {report.max_connections}"),
        ("pgmq", report.pgmq_version or ("not installed" if report.version else None)),
        ("problem", report.problem),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, value if isinstance(value, Text) else Text(str(value)))
    for queue, depth in report.queue_depths.items():
        table.add_row(f"  queue {queue}", str(depth))
    print_table(table)
