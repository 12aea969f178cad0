"""`cluster test`'s output: each phase's pytest command line as it starts, then the summary per tier."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from tasker_cluster.ui.console import console

if TYPE_CHECKING:
    from rich.console import Console

    from tasker_cluster.testing.tiers import Phase, PhaseResult


def announce_phase(phase: Phase, argv: list[str]) -> None:
    from rich.text import Text

    # Text, not markup: pytest arguments may hold brackets (`-k "x[1]"`).
    shown = shlex.join(["python", *argv[1:]])
    console().print(Text.assemble((f"== cluster test: {phase.label}", "bold"), f"  {shown}"), soft_wrap=True)


def announce_skipped(phase: Phase) -> None:
    from rich.text import Text

    console().print(
        Text.assemble(
            (f"== cluster test: {phase.label}", "bold"),
            "  skipped: none of the tests the pytest arguments chose is in this phase (collected, not run)",
        ),
        soft_wrap=True,
    )


def print_summary(tier: str, results: list[PhaseResult]) -> None:
    _summarize(console(), tier, results)


def _summarize(console: Console, tier: str, results: list[PhaseResult]) -> None:
    from rich.table import Table

    from tasker_cluster.testing.tiers import total_line

    figures = [figure for result in results for figure in result.figures]
    if figures:
        _print_figures(console, figures)
    table = Table(title=f"cluster test {tier}", title_justify="left")
    for column in ("TIER", "PASSED", "FAILED", "ERRORS", "SKIPPED", "TEST TIME"):
        table.add_column(column, justify="left" if column == "TIER" else "right")
    for result in results:
        source = result.phase.cluster_source
        for counts in result.tiers:
            table.add_row(
                counts.tier if source is None else f"{counts.tier} ({source})",
                _count(counts.passed, "green"),
                _count(counts.failed, "red"),
                _count(counts.errors, "red"),
                _count(counts.skipped, "yellow"),
                seconds(counts.duration),
            )
    console.print(table)
    nothing_at_all = all(result.empty for result in results)
    for result in results:
        if result.skipped:
            console.print(
                f"phase {result.phase.label}: [dim]skipped: none of the tests the pytest arguments chose is in it "
                f"(collected in {result.wall_seconds:.1f} s, not run)[/dim]"
            )
            continue
        if result.empty and result.ok and not nothing_at_all:
            verdict = "[dim]no test of this phase among the tests the pytest arguments chose[/dim]"
        elif result.ok and not result.empty:
            verdict = "[green]passed[/green]"
        else:
            verdict = f"[red]failed (pytest exit {result.exit_code})[/red]"
        console.print(f"phase {result.phase.label}: {verdict} in {result.wall_seconds:.1f} s{_times(result)}")
        if result.report_problem is not None:
            console.print(f"[red]no test counts for {result.phase.label}:[/red] {result.report_problem}")
        if result.empty and (not result.ok or nothing_at_all):
            console.print(
                f"[red]no tests were collected for {result.phase.label} (-m {result.phase.marker!r}):[/red] "
                "a tier with no tests is a failure; check the markers and the paths given to pytest"
            )
    console.print(total_line(results), markup=False, highlight=False)


def seconds(value: float) -> str:
    """A duration for the summary: to 0.1 s from 10 s up, to 0.01 s below, so that short tests never show 0.0."""
    if 0 < value < 0.005:
        return "<0.01 s"
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def _times(result: PhaseResult) -> str:
    """pytest's own session time, and the tests' (TEST TIME, their setup, call and teardown): the rest is pytest's
    start-up and collection; under xdist the tests' times add up over its workers."""
    if result.session_seconds is None or not result.tiers:
        return ""
    tests = seconds(sum(counts.duration for counts in result.tiers))
    over = ", summed over its workers" if result.phase.workers else ""
    return f" (pytest's session {seconds(result.session_seconds)}, its tests {tests}{over})"


def _print_figures(console: Console, figures: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title="scenario figures", title_justify="left")
    # Folded, not cut: on an 80-column CI log the test name is the part worth reading whole.
    table.add_column("TEST", overflow="fold", ratio=1)
    table.add_column("FIGURES", overflow="fold", ratio=1)
    for name, text in figures:
        table.add_row(name.removeprefix("test_"), text)
    console.print(table)


def _count(value: int, style: str) -> str:
    return f"[{style}]{value}[/{style}]" if value else "0"
