"""Every table and progress display of the lifecycle commands. Imports only Rich: status-quick renders here too."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tasker_cluster.inventory import DATABASE_ROW_NAME, DatabaseRow, InstanceStatus

if TYPE_CHECKING:
    from rich.live import Live

    from tasker_cluster.lifecycle import InstanceStart, StartEvent, StartReport
    from tasker_cluster.stopping import InstanceStop

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


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else _PIPE_WIDTH, highlight=False)


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
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    out = console()
    if out.is_terminal:
        out.print(status_table(rows, database))
        return
    # Rich pads the last column to its width; piped output should not end its lines in spaces.
    with out.capture() as captured:
        out.print(status_table(rows, database))
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def status_table(rows: Sequence[InstanceStatus], database: DatabaseRow | None = None) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("INSTANCE", "STATUS", "PID", "PORT", "UPTIME"):
        table.add_column(column, justify="right" if column in ("PID", "PORT", "UPTIME") else "left", no_wrap=True)
    # The only column Rich may narrow: a long error (psycopg's run to 100+ characters) is cut with an ellipsis
    # instead of squeezing the names and pids. Its cells refuse to wrap, so every row stays one line.
    table.add_column("HEALTH", no_wrap=False)
    shown: list[DatabaseRow | InstanceStatus] = [database] if database is not None else []
    for row in [*shown, *rows]:
        health = _health_text(row) if isinstance(row, InstanceStatus) else _database_health_text(row)
        table.add_row(
            row.name,
            Text(row.status, style=STATUS_STYLES.get(row.status, "")),
            "" if row.pid is None else str(row.pid),
            "" if row.port is None else str(row.port),
            format_uptime(row.uptime_s),
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


class StartProgress:
    """Live table of instance states on a terminal; one plain line per event otherwise (logs, CI)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._console = console()
        self._states = {name: ("pending", "") for name in names}
        self._live: Live | None = None

    def __enter__(self) -> StartProgress:
        if self._console.is_terminal:
            from rich.live import Live

            self._live = Live(self._table(), console=self._console, refresh_per_second=20, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(kind, error, traceback)

    def __call__(self, event: StartEvent) -> None:
        if event.name in self._states:
            self._states[event.name] = (event.kind, event.detail)
        if self._live is not None:
            self._live.update(self._table())
            if event.kind in ("lock-wait", "database"):
                self._live.console.print(Text(event.detail))
            return
        if event.kind == "database":
            # The database's announcements are whole sentences; a kind column would only repeat "database".
            line = f"{DATABASE_ROW_NAME:<18} {event.detail}"
        else:
            line = f"{event.name or 'cluster':<18} {event.kind:<12} {event.detail}"
        self._console.print(Text(line.rstrip()), soft_wrap=True)

    def _table(self) -> Table:
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
    out = console()
    if not results:
        out.print("nothing to stop: no instance has a PID file")
    for result in [*results, *([database] if database is not None else [])]:
        style = "red" if result.outcome == "survived" else STATUS_STYLES.get(result.outcome, "")
        pid = f"pid {result.pid}" if result.pid is not None else ""
        line = Text(f"{result.name:<18} ")
        line.append(f"{result.outcome:<12}", style=style or None)
        line.append(f" {pid:<11} {result.detail}")
        line.rstrip()
        out.print(line, soft_wrap=True)


def _failed(state: str) -> bool:
    return state in ("port-taken", "spawn-failed", "exited", "timeout")
