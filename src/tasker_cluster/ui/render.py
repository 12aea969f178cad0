"""Every table and progress display of the lifecycle commands.

Rich draws them on a terminal. Piped output, the kind scripts and loops read, is written as plain text without
importing Rich (~50 ms of a ~60 ms status-quick), byte for byte what Rich prints there (a test compares them);
content plain text cannot render the way Rich would (wide or control characters, a row wider than the page) still
goes through Rich. A reader that goes away (`| head`) ends the display, never the command: see `write_out`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING

from tasker_cluster.cluster.state import DATABASE_ROW_NAME, DatabaseRow, InstanceStatus

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from tasker_cluster.cluster.start import InstanceStart, StartEvent, StartReport
    from tasker_cluster.cluster.stop import InstanceStop

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
# Wide enough for the status table when output is piped, where Rich would otherwise assume 80 columns.
_PIPE_WIDTH = 140
COLUMNS = ("INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "HEALTH")
_RIGHT_ALIGNED = frozenset({"PID", "PORT", "UPTIME"})
# Rich's cell padding (0, 1) without edge padding puts two spaces between columns.
_GAP = "  "


def write_out(text: str) -> None:
    """Write `text` to stdout at once; if its reader has gone, discard this and all later output.

    Flushed on every call: a broken pipe found only by the flush at exit would print a traceback-like warning.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()


def discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null: Python's documented answer to EPIPE, so later writes succeed unseen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def plain_output() -> bool:
    """True when Rich would print to stdout without colours or terminal controls: a pipe or a file."""
    forced = os.environ.get("TTY_COMPATIBLE") == "1" or bool(os.environ.get("FORCE_COLOR"))
    return not forced and not sys.stdout.isatty()


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return _tolerant_console_class()(file=stream, width=None if stream.isatty() else _PIPE_WIDTH, highlight=False)


@cache
def _tolerant_console_class() -> type[Console]:
    from rich.console import Console

    class TolerantConsole(Console):
        """Rich's own answer to a closed pipe is SystemExit, which would stop a start half-way; this only goes quiet."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            discard_stdout()

    return TolerantConsole


def print_status(
    rows: Sequence[InstanceStatus], database: DatabaseRow | None, *, as_json: bool, summary_key: str, ok: bool
) -> None:
    """The INSTANCE STATUS PID PORT UPTIME HEALTH table (the database first), or the documented JSON document."""
    if as_json:
        document = {
            "database": None if database is None else database.as_json(),
            "instances": [row.as_json() for row in rows],
            summary_key: ok,
        }
        write_out(json.dumps(document, indent=2) + "\n")
        return
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


def preload_for_display(*, as_json: bool) -> None:
    """Import what drawing the table will need, e.g. while probes are in flight: Rich costs ~50 ms on a terminal."""
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
    if sum(widths) + len(_GAP) * (len(widths) - 1) > _PIPE_WIDTH:
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


def print_line(line: str, style_span: tuple[int, int, str] | None = None) -> None:
    """One line of progress or outcome; `style_span` (start, end, style) colours part of it on a terminal."""
    line = line.rstrip()
    if plain_output() and line.isascii() and line.isprintable():
        write_out(line + "\n")
        return
    from rich.text import Text

    text = Text(line)
    if style_span is not None and style_span[2]:
        text.stylize(style_span[2], style_span[0], style_span[1])
    console().print(text, soft_wrap=True)


class StartProgress:
    """Live table of instance states on a terminal; one plain line per event otherwise (logs, CI)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._states = {name: ("pending", "") for name in names}
        self._live: Live | None = None

    def __enter__(self) -> StartProgress:
        if not plain_output():
            out = console()
            if out.is_terminal:
                from rich.live import Live

                self._live = Live(self._table(), console=out, refresh_per_second=20, transient=False)
                self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(kind, error, traceback)

    def started(self) -> list[str]:
        """The instances this start spawned, ready or not yet."""
        return [name for name, (kind, _) in self._states.items() if kind in ("spawned", "ready")]

    def __call__(self, event: StartEvent) -> None:
        if event.name in self._states:
            self._states[event.name] = (event.kind, event.detail)
        if self._live is not None:
            from rich.text import Text

            self._live.update(self._table())
            if event.kind in ("lock-wait", "database"):
                self._live.console.print(Text(event.detail))
            return
        if event.kind == "database":
            # The database's announcements are whole sentences; a kind column would only repeat "database".
            print_line(f"{DATABASE_ROW_NAME:<18} {event.detail}")
        else:
            print_line(f"{event.name or 'cluster':<18} {event.kind:<12} {event.detail}")

    def _table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for name, (state, detail) in self._states.items():
            style = STATUS_STYLES.get(state, "red" if _failed(state) else "")
            table.add_row(name, Text(state, style=style), Text(detail))
        return table


def start_summary(report: StartReport) -> str:
    counts: dict[str, int] = {}
    for instance in report.instances:
        counts[instance.outcome] = counts.get(instance.outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in counts.items()) or "nothing to start"


def start_failure_message(failed: Sequence[InstanceStart]) -> str:
    """One block per failed instance: what happened, and the last lines of its log."""
    blocks = []
    for instance in failed:
        block = f"{instance.name}: {instance.outcome}: {instance.detail}"
        if instance.log_tail:
            tail = "\n".join(f"    | {line}" for line in instance.log_tail)
            block += f"\n  last lines of {instance.log}:\n{tail}"
        elif instance.log and instance.outcome in ("exited", "timeout"):
            block += f"\n  ({instance.log} has no output from this run)"
        blocks.append(block)
    noun = "instance" if len(failed) == 1 else "instances"
    return f"{len(failed)} {noun} failed to start:\n" + "\n".join(blocks)


def start_failure_fix(failed: Sequence[InstanceStart]) -> str:
    fixes = []
    if any(instance.outcome == "port-taken" for instance in failed):
        fixes.append("stop the process named as holding the port, or give the service another base_port")
    if any(instance.outcome in ("exited", "timeout", "spawn-failed") for instance in failed):
        fixes.append("read the log lines above (or `cluster logs NAME`) and fix the cause")
    return "; ".join(fixes) + ", then run the command again"


def print_stop(results: Sequence[InstanceStop], database: InstanceStop | None = None) -> None:
    """One line per instance, then one for the database when it was stopped or deliberately left running."""
    if not results:
        print_line("nothing to stop: no instance has a PID file")
    for result in [*results, *([database] if database is not None else [])]:
        style = "red" if result.outcome == "survived" else STATUS_STYLES.get(result.outcome, "")
        pid = f"pid {result.pid}" if result.pid is not None else ""
        start = len(f"{result.name:<18} ")
        line = f"{result.name:<18} {result.outcome:<12} {pid:<11} {result.detail}"
        print_line(line, (start, start + max(len(result.outcome), 12), style))


def _failed(state: str) -> bool:
    return state in ("port-taken", "spawn-failed", "exited", "timeout")
