"""`cluster logs`: the last lines of each instance's log, optionally followed, behind an aligned colored prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Sequence

    from rich.console import Console

    from tasker_cluster.log_render import LogPrinter
    from tasker_cluster.logs import LogSource, Tail
    from tasker_cluster.project import Project


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("logs")(logs)


def logs(
    ctx: typer.Context,
    names: list[str] | None = typer.Argument(None, help="Instances or services (default: all).", show_default=False),
    orchestration: bool = typer.Option(False, "--orchestration", help="Orchestration instances only."),
    workers: bool = typer.Option(False, "--workers", help="Worker instances only."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    lines: int = typer.Option(20, "--lines", "-n", min=0, help="Lines to show from the end of each log."),
) -> None:
    """Show instance logs behind an instance prefix; -f follows them and picks up logs that appear later."""
    from rich.console import Console

    from tasker_cluster.log_render import LogPrinter
    from tasker_cluster.logs import select_sources
    from tasker_cluster.topology import load_topology

    project: Project = ctx.obj.project
    topology = load_topology(project)
    roles = [role for role, wanted in (("orchestration", orchestration), ("worker", workers)) if wanted]
    sources = select_sources(project, topology, names or (), roles)
    # Before the first line is printed: whoever has seen output may press Ctrl-C and must get a clean exit.
    stop = _stop_on_interrupt() if follow else None
    printer = LogPrinter(Console(), [source.instance for source in sources])
    notices = Console(stderr=True)
    tails = _print_tails(sources, lines, printer, notices, project, keep_partial=follow)
    if stop is not None:
        try:
            _follow(sources, tails, printer, stop, lambda: select_sources(project, topology, names or (), roles))
        except BrokenPipeError:
            # `cluster logs -f | head` closing the pipe is a normal way to stop reading.
            _silence_stdout()


def _print_tails(
    sources: Sequence[LogSource],
    count: int,
    printer: LogPrinter,
    notices: Console,
    project: Project,
    *,
    keep_partial: bool,
) -> dict[str, Tail]:
    """Print the end of every log that exists; note each that does not. Without -f, none at all is an error."""
    from tasker_cluster.errors import ClusterError
    from tasker_cluster.logs import LogLine, read_tail

    tails: dict[str, Tail] = {}
    missing = []
    for source in sources:
        try:
            tail = read_tail(source.path, count)
        except FileNotFoundError:
            missing.append(source)
            continue
        tails[source.instance] = tail
        shown = tail.lines
        if not keep_partial and tail.partial:
            # Nothing follows, so the unfinished last line (often a crash message) is shown as it is.
            shown = [*shown, tail.partial][-count:] if count else []
        printer.print(LogLine(source.instance, text) for text in shown)
    if not tails and not keep_partial:
        raise ClusterError(
            f"no log file for {_listing(sources)} in {project.logs_dir}",
            "start the instances first: cluster start-all",
        )
    if missing:
        notices.print(
            f"no log yet for {_listing(missing)} in {project.logs_dir} (a log starts with its instance)",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    return tails


def _follow(
    sources: Sequence[LogSource],
    tails: dict[str, Tail],
    printer: LogPrinter,
    stop: threading.Event,
    discover: Callable[[], Sequence[LogSource]],
) -> None:
    from tasker_cluster.logs import LogMultiplexer, start_following

    multiplexer = LogMultiplexer(start_following(sources, tails), discover=discover)
    for batch in multiplexer.follow(stop):
        printer.print(batch)


def _stop_on_interrupt() -> threading.Event:
    """An event Ctrl-C sets: the handler only records the signal, the follow loop ends at its next check."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    return stop


def _listing(sources: Sequence[LogSource]) -> str:
    if not sources:
        return "any instance (none selected)"
    return ", ".join(source.instance for source in sources)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
