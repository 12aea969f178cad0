"""Log lines on a console: an aligned, colored `name | ` prefix whose color never changes between runs."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from tasker_cluster.logs import LogLine

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
    """Prints batches of log lines; the prefix width grows if a longer name turns up while following."""

    def __init__(self, console: Console, names: Iterable[str]) -> None:
        self.console = console
        self.width = max((len(name) for name in names), default=0)

    def print(self, lines: Iterable[LogLine]) -> None:
        texts = [self._render(line) for line in lines]
        if texts:
            # One print per batch: Rich's per-call overhead dominates when a follower catches up on many lines.
            # soft_wrap keeps Rich from hard-wrapping long lines, which would break the prefix column.
            self.console.print(Text("\n").join(texts), soft_wrap=True)

    def _render(self, line: LogLine) -> Text:
        self.width = max(self.width, len(line.instance))
        prefix = Text(line.instance.ljust(self.width), style=prefix_color(line.instance))
        # Text, not a markup string: log content such as "[red]" or ":smile:" is printed verbatim.
        return Text.assemble(prefix, " | ", line.text)
