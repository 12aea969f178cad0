"""`cluster test`'s live progress line on a terminal: passed, failed, skipped and errors so far, of how many, and
the time elapsed, under pytest's own output (which is passed through above it, colours kept)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tasker_cluster.ui.console import console, plain_output

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from tasker_cluster.testing.tiers import Phase

_STYLES = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def progress_runner() -> ProgressRunner | None:
    """A phase runner that draws the progress line, when stdout is a terminal; None otherwise (logs, CI)."""
    return None if plain_output() or not console().is_terminal else ProgressRunner()


class ProgressRunner:
    """Runs one phase's pytest under a live progress line (a `testing.tiers.Runner`)."""

    def __call__(self, phase: Phase, argv: list[str], cwd: Path) -> int:
        from rich.live import Live
        from rich.text import Text

        from tasker_cluster.testing.progress import run_pytest

        out = console()
        line = ProgressLine(phase.label)
        # Before the user's own arguments, so that a `--color=no` of theirs still wins.
        colored = [*argv[:3], "--color=yes", *argv[3:]]
        with Live(line, console=out, refresh_per_second=4, transient=True) as live:

            def show(text: str) -> None:
                live.console.print(Text.from_ansi(text.rstrip("\n")), soft_wrap=True)

            return run_pytest(colored, cwd, on_output=show, on_outcome=line.count, on_total=line.expect)


class ProgressLine:
    """The counts of one phase so far; rendered afresh on each refresh, so the elapsed time keeps moving."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._started = time.monotonic()
        self._counts = dict.fromkeys(_STYLES, 0)
        self._total: int | None = None
        self._lock = threading.Lock()

    def count(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] = self._counts.get(outcome, 0) + 1

    def expect(self, total: int) -> None:
        self._total = total

    def render(self) -> object:
        from rich.text import Text

        with self._lock:
            counts = dict(self._counts)
        done = sum(counts.values())
        of = f"/{self._total}" if self._total is not None else ""
        text = Text.assemble((f"{self._label}: ", "bold"), f"{done}{of} tests  ")
        for outcome, count in counts.items():
            if count or outcome != "error":
                text.append(f"{count} {outcome}", style=_STYLES[outcome] if count else "")
                text.append("  ")
        elapsed = time.monotonic() - self._started
        text.append(f"{int(elapsed // 60)}m {elapsed % 60:04.1f}s" if elapsed >= 60 else f"{elapsed:.1f}s")
        return text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render()  # type: ignore[misc]
