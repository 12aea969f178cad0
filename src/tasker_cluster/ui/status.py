"""The status table of `status`, `status-quick` and `start-all`: INSTANCE STATUS PID PORT UPTIME HEALTH, or JSON.

Piped, the table is written as plain text without importing Rich, byte for byte what Rich prints there; content
plain text cannot lay out the way Rich would (wide or control characters, a row wider than the page) still goes
through Rich (see `ui/console.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.cluster.start_results import pids_text, runs
from tasker_cluster.cluster.status import ClusterStatus, DatabaseRow, InstanceStatus
from tasker_cluster.ui.console import PIPE_WIDTH, console, plain_output, write_out

if TYPE_CHECKING:
    from rich.table import Table

STATUS_STYLES = {
    "healthy": "green",
    "running": "green",
    "ready": "green",
    "starting": "yellow",
    "started": "yellow",
    "spawned": "yellow",
    "unhealthy": "red",
    "dead": "red",
    "stopped": "dim",
    "left-running": "yellow",
    "unknown": "dim",
}
COLUMNS = ("INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "HEALTH")
_RIGHT_ALIGNED = frozenset({"PID", "PORT", "UPTIME"})
# Rich's cell padding (0, 1) without edge padding puts two spaces between columns.
_GAP = "  "


def print_status(status: ClusterStatus, *, as_json: bool, summary_key: str = "healthy") -> None:
    """The table (the database first), or the documented JSON document whose `summary_key` ("healthy", or
    "running" for status-quick) holds the verdict."""
    rows, database = status.instances, status.database
    if as_json:
        ok = status.running if summary_key == "running" else status.healthy
        document = {
            "database": None if database is None else database.as_json(),
            "instances": [row.as_json() for row in rows],
            summary_key: ok,
        }
        write_out(json.dumps(document, indent=2) + "\n")
        return
    _print_table(rows, database)
    notes = status_notes(rows)
    if notes:
        write_out("".join(f"{note}\n" for note in notes))


def _print_table(rows: Sequence[InstanceStatus], database: DatabaseRow | None) -> None:
    cells = status_cells(rows, database)
    plain = plain_table(cells) if plain_output() else None
    if plain is not None:
        write_out(plain)
        return
    out = console()
    if out.is_terminal:
        out.print(status_table(rows, database))
        return
    # Rich pads the last column to its width; piped output should not end its lines in spaces.
    with out.capture() as captured:
        out.print(status_table(rows, database))
    write_out("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def status_notes(rows: Sequence[InstanceStatus]) -> list[str]:
    """What the table cannot say in a cell, one line each: where the running cluster differs from the topology,
    and processes of an instance that are not where they should be. Each names the command that settles it."""
    notes = []
    for row in rows:
        if row.drift:
            notes.append(f"{row.name}: {row.drift}: restart it (`cluster stop {row.name}`, then start it)")
        if row.extra:
            notes.append(f"{row.name}: not in the topology any more: `cluster stop {row.name}` stops it")
        if row.serving:
            notes.append(
                f"{row.name}: its leader exited and {pids_text(row.serving)} of its session "
                f"{runs(row.serving, 'serve')} on: the command puts itself in the background (run it in the foreground)"
            )
        if row.escaped:
            it = "it" if len(row.escaped) == 1 else "them"
            notes.append(
                f"{row.name}: {pids_text(row.escaped)} left its session (setsid, a double fork) and still "
                f"{runs(row.escaped)}: `cluster stop {row.name}` stops {it} too"
            )
    return notes


def preload_for_display(*, as_json: bool) -> None:
    """Import what drawing the table will need, e.g. while probes are in flight (Rich's import is most of a
    terminal table's cost)."""
    if not as_json and not plain_output():
        import rich.console
        import rich.table  # noqa: F401


def status_cells(rows: Sequence[InstanceStatus], database: DatabaseRow | None = None) -> list[tuple[str, ...]]:
    """The status table's cells as text, one tuple per row in COLUMNS order, the database first."""
    shown: list[DatabaseRow | InstanceStatus] = [database] if database is not None else []
    return [
        (
            row.name,
            row.status,
            "" if row.pid is None else str(row.pid),
            "" if row.port is None else str(row.port),
            format_uptime(row.uptime_s),
            _health_text(row) if isinstance(row, InstanceStatus) else _database_health_text(row),
        )
        for row in [*shown, *rows]
    ]


def plain_table(cells: Sequence[tuple[str, ...]]) -> str | None:
    """The status table as Rich prints it to a pipe, lines right-stripped; None when only Rich can lay it out.

    Rich measures in terminal cells and would narrow HEALTH to fit the page: printable ASCII that fits needs neither.
    """
    if not all(cell.isascii() and cell.isprintable() for row in cells for cell in row):
        return None
    widths = [max(len(row[column]) for row in [COLUMNS, *cells]) for column in range(len(COLUMNS))]
    if sum(widths) + len(_GAP) * (len(widths) - 1) > PIPE_WIDTH:
        return None
    lines = []
    for row in [COLUMNS, *cells]:
        padded = [
            cell.rjust(width) if name in _RIGHT_ALIGNED else cell.ljust(width)
            for name, cell, width in zip(COLUMNS, row, widths, strict=True)
        ]
        lines.append(_GAP.join(padded).rstrip() + "\n")
    return "".join(lines)


def status_table(rows: Sequence[InstanceStatus], database: DatabaseRow | None = None) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in COLUMNS[:-1]:
        table.add_column(column, justify="right" if column in _RIGHT_ALIGNED else "left", no_wrap=True)
    # The only column Rich may narrow: a long error (psycopg's run to 100+ characters) is cut with an ellipsis
    # instead of squeezing the names and pids. Its cells refuse to wrap, so every row stays one line.
    table.add_column(COLUMNS[-1], no_wrap=False)
    for name, status, pid, port, uptime, health in status_cells(rows, database):
        table.add_row(
            name,
            Text(status, style=STATUS_STYLES.get(status, "")),
            pid,
            port,
            uptime,
            Text(health, no_wrap=True, overflow="ellipsis"),
        )
    return table


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _health_text(row: InstanceStatus) -> str:
    latency = f" {row.latency_ms:.0f} ms" if row.latency_ms is not None else ""
    if row.status == "healthy":
        return f"{row.http_status}{latency}"
    if row.detail:
        return f"{row.detail}{latency}"
    return ""


def _database_health_text(row: DatabaseRow) -> str:
    if row.status == "healthy" and row.latency_ms is not None:
        return f"SQL {row.latency_ms:.0f} ms, {row.detail}"
    return row.detail
