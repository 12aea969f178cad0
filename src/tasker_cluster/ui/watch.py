"""`cluster status --watch`: the status table refreshed every interval until Ctrl-C.

On a terminal, one Rich Live table redrawn in place, each cell that changed since the last refresh highlighted.
Piped (or with --json), one table (or JSON document) per refresh, for scripts and logs. Ctrl-C ends it with exit 0.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable

from tasker_cluster.cluster.status import ClusterStatus
from tasker_cluster.ui.console import console, plain_output, write_out
from tasker_cluster.ui.status import COLUMNS, print_status, status_cells

CHANGED_STYLE = "reverse"


def watch_status(observe: Callable[[], ClusterStatus], interval: float, *, as_json: bool) -> int:
    """Draw `observe()` every `interval` seconds until Ctrl-C; 0."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    try:
        if as_json or plain_output():
            _piped(observe, interval, stop, as_json=as_json)
        else:
            _live(observe, interval, stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


def _piped(observe: Callable[[], ClusterStatus], interval: float, stop: threading.Event, *, as_json: bool) -> None:
    while not stop.is_set():
        started = time.monotonic()
        status = observe()
        if as_json:
            document = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "database": None if status.database is None else status.database.as_json(),
                "instances": [row.as_json() for row in status.instances],
                "healthy": status.healthy,
            }
            write_out(json.dumps(document) + "\n")
        else:
            write_out(f"{time.strftime('%H:%M:%S')}  {'healthy' if status.healthy else 'not healthy'}\n")
            print_status(status, as_json=False)
            write_out("\n")
        stop.wait(max(interval - (time.monotonic() - started), 0.0))


def _live(observe: Callable[[], ClusterStatus], interval: float, stop: threading.Event) -> None:
    from rich.live import Live

    out = console()
    last: dict[str, tuple[str, ...]] = {}
    with Live(console=out, auto_refresh=False, transient=False) as live:
        while not stop.is_set():
            started = time.monotonic()
            status = observe()
            cells = status_cells(status.instances, status.database)
            live.update(_table(cells, last, status.healthy), refresh=True)
            last = {row[0]: row for row in cells}
            stop.wait(max(interval - (time.monotonic() - started), 0.0))


def _table(cells: list[tuple[str, ...]], last: dict[str, tuple[str, ...]], healthy: bool) -> object:
    """The status table with every cell that differs from the last refresh highlighted (a new row: all of it).

    Uptime changes every refresh, so it never counts as a change.
    """
    from rich.table import Table
    from rich.text import Text

    from tasker_cluster.ui.status import STATUS_STYLES

    verdict = Text("healthy", style="green") if healthy else Text("not healthy", style="red")
    table = Table(
        box=None, header_style="bold", pad_edge=False, title=Text.assemble(time.strftime("%H:%M:%S  "), verdict)
    )
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("PID", "PORT", "UPTIME") else "left", no_wrap=True)
    for row in cells:
        before = last.get(row[0])
        texts = []
        for position, (column, cell) in enumerate(zip(COLUMNS, row, strict=True)):
            style = STATUS_STYLES.get(cell, "") if column == "STATUS" else ""
            changed = last and column != "UPTIME" and (before is None or before[position] != cell)
            texts.append(Text(cell, style=f"{style} {CHANGED_STYLE}".strip() if changed else style))
        table.add_row(*texts)
    return table
