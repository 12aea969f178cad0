"""Log lines on a console: an aligned, colored `name | ` prefix whose color never changes between runs."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.style import Style

from tasker_cluster.cluster.logs import LogLine
from tasker_cluster.ui.console import print_line

STAMP_WIDTH = len("2026-11-29T10:00:00.000")
# Distinct on both dark and light backgrounds; red is left out so that a prefix never reads as an error.
PALETTE = (
    "cyan",
    "green",
    "magenta",
    "yellow",
    "blue",
    "bright_cyan",
    "bright_green",
    "bright_magenta",
    "bright_yellow",
    "bright_blue",
)


def prefix_color(name: str) -> str:
    """A color fixed by the name alone: siblings (worker-a-1, worker-a-2) get neighbouring, different colors.

    crc32 rather than hash(): Python salts str hashes per process, so hash() would change colors every run.
    """
    service, _, index = name.rpartition("-")
    if service and index.isdigit():
        return PALETTE[(zlib.crc32(service.encode()) + int(index) - 1) % len(PALETTE)]
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


class LogPrinter:
    """Writes batches of log lines; the prefix width grows if a longer name turns up while following.

    Rich decides whether and how to color (a terminal or FORCE_COLOR, its color system, NO_COLOR); the lines are
    then written directly rather than through `Console.print`, whose per-line cost would let a busy log outrun
    `logs -f` (bench/README.md, "logs"). Log text is written verbatim, never as markup. A reader that goes away
    raises BrokenPipeError here: the follow loop ends.
    """

    def __init__(self, console: Console, names: Iterable[str], *, timestamps: bool = False) -> None:
        self.console = console
        self.width = max((len(name) for name in names), default=0)
        self.timestamps = timestamps
        self._prefixes: dict[str, str] = {}

    def print(self, lines: Iterable[LogLine]) -> None:
        if self.timestamps:
            text = "".join(f"{self._prefix(line.instance)} | {stamp(line.time)} {line.text}\n" for line in lines)
        else:
            text = "".join(f"{self._prefix(line.instance)} | {line.text}\n" for line in lines)
        if text:
            self.console.file.write(text)
            self.console.file.flush()

    def _prefix(self, name: str) -> str:
        if len(name) > self.width:
            self.width = len(name)
            self._prefixes.clear()
        prefix = self._prefixes.get(name)
        if prefix is None:
            prefix = self._prefixes[name] = self._styled(name.ljust(self.width), prefix_color(name))
        return prefix

    def _styled(self, text: str, color: str) -> str:
        if self.console.no_color or self.console.color_system is None:
            return text
        return Style(color=color).render(text, color_system=self.console.color_system)


def stamp(time: float | None) -> str:
    """When a line was written, local time to the millisecond (the precision of the log writer's line times);
    a dash as wide for a line whose time is unknown (its log was not written through the log writer)."""
    if time is None:
        return "-".ljust(STAMP_WIDTH)
    from datetime import datetime

    return datetime.fromtimestamp(time).isoformat(timespec="milliseconds")


def print_missing_logs(listing: str, logs_dir: Path) -> None:
    print_line(f"no log yet for {listing} in {logs_dir} (a log starts with its instance)", stderr=True)


def print_silent_instance(name: str, started: float) -> None:
    """An instance that runs (since `started`, seconds since the epoch) and has no log: it wrote nothing yet."""
    import time

    from tasker_cluster.ui.status import format_uptime

    up = format_uptime(max(time.time() - started, 0.0))
    print_line(f"{name} has run for {up} and written nothing yet (its log starts with its first output)", stderr=True)
