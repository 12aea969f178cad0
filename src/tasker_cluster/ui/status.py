"""The status table of `status`, `status-quick` and `start-all`: INSTANCE STATUS PID PORT UPTIME CPU RSS HEALTH,
or JSON; warnings (a configuration that could not be read) go to stderr before it.

Piped, the table is written as plain text without importing Rich, byte for byte what Rich prints there; content
plain text cannot lay out the way Rich would (wide or control characters, a row wider than the page) still goes
through Rich (see `ui/console.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.cluster.start_results import pids_text, runs
from tasker_cluster.cluster.status import ClusterStatus, DatabaseRow, InstanceStatus, Resources, StatusWarning
from tasker_cluster.ui.console import (
    PIPE_WIDTH,
    STATUS_STYLES,
    console,
    plain_output,
    print_table,
    write_err,
    write_out,
)

if TYPE_CHECKING:
    from rich.table import Table

COLUMNS = ("INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH")
RIGHT_ALIGNED = frozenset({"PID", "PORT", "UPTIME", "CPU", "RSS"})
# Rich's cell padding (0, 1) without edge padding puts two spaces between columns.
_GAP = "  "
# What a terminal too narrow for every column drops, first to last, as htop shows the columns its width holds: the
# resource figures, then UPTIME, PORT and PID. INSTANCE, STATUS and HEALTH stay: which instance is not well, and why.
DROPPED_FIRST = ("CPU", "RSS", "UPTIME", "PORT", "PID")
# The width HEALTH keeps before a column is dropped: a healthy answer ("200 1234 ms") on one line; a reason wraps.
HEALTH_MIN_WIDTH = 12


def print_status(status: ClusterStatus, *, as_json: bool, summary_key: str = "healthy") -> None:
    """The table (the database first), or the documented JSON document whose `summary_key` ("healthy", or
    "running" for status-quick) holds the verdict."""
    rows, database = status.instances, status.database
    if as_json:
        write_out(json.dumps(status_document(status, summary_key), indent=2) + "\n")
        return
    print_warnings(status.warnings)
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
    print_table(status_table(rows, database, width=console().width))


def status_document(status: ClusterStatus, summary_key: str = "healthy") -> dict[str, object]:
    """The documented JSON document; `summary_key` ("healthy", or "running" for status-quick) holds the verdict."""
    return {
        "database": None if status.database is None else status.database.as_json(),
        "instances": [row.as_json() for row in status.instances],
        "warnings": [warning.as_json() for warning in status.warnings],
        summary_key: status.running if summary_key == "running" else status.healthy,
    }


def print_warnings(warnings: Sequence[StatusWarning]) -> None:
    for warning in warnings:
        write_err(f"warning: {warning.message}\n" + (f"  fix: {warning.fix}\n" if warning.fix else ""))


def status_notes(rows: Sequence[InstanceStatus]) -> list[str]:
    """What the table cannot say in a cell, one line each: where the running cluster differs from the topology,
    and processes of an instance that are not where they should be. Each names the command that settles it."""
    notes = []
    for row in rows:
        if row.drift:
            notes.append(f"{row.name}: {row.drift}: restart it (`cluster restart {row.name}`)")
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
            format_cpu(row.resources),
            format_bytes(row.resources.rss_bytes) if row.resources is not None else "",
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
            cell.rjust(width) if name in RIGHT_ALIGNED else cell.ljust(width)
            for name, cell, width in zip(COLUMNS, row, widths, strict=True)
        ]
        lines.append(_GAP.join(padded).rstrip() + "\n")
    return "".join(lines)


def status_table(rows: Sequence[InstanceStatus], database: DatabaseRow | None = None, width: int = PIPE_WIDTH) -> Table:
    """The Rich table of the rows (the database first), with the columns a page `width` cells wide holds
    (`fitting_columns`)."""
    from rich.text import Text

    cells = status_cells(rows, database)
    columns = fitting_columns(cells, width)
    table = new_table(columns)
    for row in cells:
        texts = [
            Text(cell, style=STATUS_STYLES.get(cell, "") if column == "STATUS" else "")
            for column, cell in row_cells(row, columns)
        ]
        table.add_row(*texts)
    return table


def fitting_columns(cells: Sequence[tuple[str, ...]], width: int) -> tuple[str, ...]:
    """The COLUMNS to show on a page `width` cells wide: every one while HEALTH keeps HEALTH_MIN_WIDTH (or all it
    needs, when less), else without those of DROPPED_FIRST, in turn, until it does. Left to itself, Rich squeezes
    HEALTH to nothing and the other columns to an ellipsis each (40 columns: `hea…`, `2…`).

    Below what INSTANCE, STATUS and HEALTH need, those three are shown and Rich narrows them as it can.
    """
    from rich.cells import cell_len

    needs = {column: max(cell_len(row[index]) for row in [COLUMNS, *cells]) for index, column in enumerate(COLUMNS)}
    shown = list(COLUMNS)
    for dropped in (None, *DROPPED_FIRST):
        if dropped is not None:
            shown.remove(dropped)
        fixed = sum(needs[column] for column in shown[:-1]) + len(_GAP) * (len(shown) - 1)
        if fixed + min(needs["HEALTH"], HEALTH_MIN_WIDTH) <= width:
            break
    return tuple(shown)


def row_cells(row: tuple[str, ...], columns: Sequence[str]) -> list[tuple[str, str]]:
    """(column, cell) of `row` (in COLUMNS order) for each of `columns`."""
    return [(column, row[COLUMNS.index(column)]) for column in columns]


def new_table(columns: Sequence[str], **options: object) -> Table:
    """An empty status table with `columns` (HEALTH last), Rich `options` (a title, a caption) added."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, **options)
    for column in columns[:-1]:
        table.add_column(column, justify="right" if column in RIGHT_ALIGNED else "left", no_wrap=True)
    add_health_column(table)
    return table


def add_health_column(table: Table) -> None:
    """HEALTH, the only column Rich may narrow: a long reason (psycopg's errors run to 100+ characters) wraps onto
    more lines instead of squeezing the names and pids, and is never cut, since its end often says what went wrong;
    a word wider than the column is folded."""
    table.add_column(COLUMNS[-1], no_wrap=False, overflow="fold")


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


def format_cpu(resources: Resources | None) -> str:
    """`0.4%`, `12%`, `180%` (two cores): one decimal only where it says something."""
    if resources is None:
        return ""
    percent = resources.cpu_percent
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


def format_bytes(count: int) -> str:
    """Binary units, as docker stats shows memory: `512 KiB`, `48 MiB`, `1.2 GiB`."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count} B"


def _health_text(row: InstanceStatus) -> str:
    latency = f" {row.latency_ms:.0f} ms" if row.latency_ms is not None else ""
    if row.probe in ("tcp", "exec") and row.detail:
        # "tcp open 1 ms", "exec exit 0 12 ms"; a failing check's own last line says more than its duration.
        return f"{row.detail}{latency}" if row.status == "healthy" else row.detail
    if row.status == "healthy":
        return f"{row.http_status}{latency}"
    if row.detail:
        return f"{row.detail}{latency}"
    return ""


def _database_health_text(row: DatabaseRow) -> str:
    if row.status == "healthy" and row.latency_ms is not None:
        return f"SQL {row.latency_ms:.0f} ms, {row.detail}"
    return row.detail
