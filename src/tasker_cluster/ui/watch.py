"""`cluster status --watch`: the status table refreshed every interval until Ctrl-C.

On a terminal, one Rich Live table redrawn in place, each cell that changed since the last refresh highlighted.
Piped (or with --json), one table (or JSON document) per refresh, for scripts and logs. Ctrl-C ends it with exit 0,
and so does a reader that goes away (`| head`). Each refresh measures CPU over the interval since the last one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

from tasker_cluster.cluster.status import ClusterStatus
from tasker_cluster.proc.interrupts import Interrupt, deferred_interrupt
from tasker_cluster.proc.usage import Usage
from tasker_cluster.ui.console import console, output_closed, plain_output, write_out
from tasker_cluster.ui.status import (
    COLUMNS,
    fitting_columns,
    new_table,
    print_status,
    row_cells,
    status_cells,
    status_document,
)

CHANGED_STYLE = "reverse"
# What a change of is news: the state, and which process serves on which port. Latency, connection counts,
# uptime, CPU and RSS move on every refresh: highlighting them would hide the changes that matter.
_WATCHED = ("STATUS", "PID", "PORT")
# The STATUS of a row shown once after its instance left the table (stopped as an extra, its record removed).
GONE = "gone"
Row = tuple[str, ...]

# One refresh: the status, its CPU measured from the previous refresh's readings (None: the first refresh).
Refresh = Callable[[Mapping[str, Usage] | None], ClusterStatus]


def watch_status(observe: Refresh, interval: float, *, as_json: bool) -> int:
    """Draw `observe(previous readings)` every `interval` seconds until Ctrl-C or the reader leaves; 0.

    Ctrl-C lets the refresh under way finish (a table is never cut in half) and ends the wait after it.
    """
    try:
        with deferred_interrupt() as interrupt:
            if as_json or plain_output():
                _piped(observe, interval, interrupt, as_json=as_json)
            else:
                _live(observe, interval, interrupt)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch is left
    return 0


def _piped(observe: Refresh, interval: float, interrupt: Interrupt, *, as_json: bool) -> None:
    usage = None
    while not interrupt.requested and not output_closed():
        started = time.monotonic()
        status = observe(usage)
        usage = status.usage
        if as_json:
            write_out(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **status_document(status)}) + "\n")
        else:
            write_out(f"{time.strftime('%H:%M:%S')}  {'healthy' if status.healthy else 'not healthy'}\n")
            print_status(status, as_json=False)
            write_out("\n")
        interrupt.sleep(max(interval - (time.monotonic() - started), 0.0))


def _live(observe: Refresh, interval: float, interrupt: Interrupt) -> None:
    from rich.live import Live

    out = console()
    last: dict[str, Row] | None = None
    usage = None
    with Live(console=out, auto_refresh=False, transient=False) as live:
        while not interrupt.requested and not output_closed():
            started = time.monotonic()
            status = observe(usage)
            usage = status.usage
            cells = status_cells(status.instances, status.database)
            # The terminal's width at each refresh: a resized window gets the columns it now holds.
            live.update(_table(cells, last, status, out.width), refresh=True)
            last = {row[0]: row for row in cells}
            interrupt.sleep(max(interval - (time.monotonic() - started), 0.0))


def changes(cells: list[Row], last: dict[str, Row] | None) -> list[tuple[Row, frozenset[str]]]:
    """Each row with the columns to highlight against `last` (the previous refresh's rows by name; None before the
    first): every column of a new row; STATUS, PID and PORT when changed, HEALTH with STATUS (it says why). Rows
    that went away since follow, once, as `gone`."""
    if last is None:
        return [(row, frozenset()) for row in cells]
    shown = []
    for row in cells:
        before = last.get(row[0])
        if before is None:
            shown.append((row, frozenset(COLUMNS)))
            continue
        changed = {column for column in _WATCHED if before[COLUMNS.index(column)] != row[COLUMNS.index(column)]}
        shown.append((row, frozenset(changed | ({"HEALTH"} if "STATUS" in changed else set()))))
    names = {row[0] for row in cells}
    for name, before in last.items():
        if name not in names:
            shown.append(((name, GONE, before[2], before[3], "", "", "", ""), frozenset({"INSTANCE", "STATUS"})))
    return shown


def _table(cells: list[Row], last: dict[str, Row] | None, status: ClusterStatus, width: int) -> object:
    """The status table with what changed since the last refresh highlighted (`changes`), warnings under it, with
    the columns a terminal `width` cells wide holds."""
    from rich.text import Text

    from tasker_cluster.ui.console import STATUS_STYLES

    verdict = Text("healthy", style="green") if status.healthy else Text("not healthy", style="red")
    caption = "\n".join(f"warning: {warning.message}" for warning in status.warnings) or None
    shown = changes(cells, last)
    columns = fitting_columns([row for row, _ in shown], width)
    table = new_table(
        columns,
        title=Text.assemble(time.strftime("%H:%M:%S  "), verdict),
        caption=Text(caption, style="yellow") if caption else None,
    )
    for row, changed in shown:
        texts = []
        for column, cell in row_cells(row, columns):
            style = STATUS_STYLES.get(cell, "") if column == "STATUS" else ""
            texts.append(Text(cell, style=f"{style} {CHANGED_STYLE}".strip() if column in changed else style))
        table.add_row(*texts)
    return table
