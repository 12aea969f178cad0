"""`cluster logs`: the last lines of each instance's log, optionally followed, behind an aligned colored prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import threading
    from collections.abc import Sequence

    from tasker_cluster.cluster.logs import LogFollower
    from tasker_cluster.project import Project
    from tasker_cluster.ui.log_lines import LogPrinter


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("logs")(logs)


def logs(
    ctx: typer.Context,
    names: list[str] | None = typer.Argument(
        None, metavar="NAME", help="Instances or services (default: all).", show_default=False
    ),
    orchestration: bool = typer.Option(False, "--orchestration", help="Orchestration instances only."),
    workers: bool = typer.Option(False, "--workers", help="Worker instances only."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    lines: int = typer.Option(20, "--lines", "-n", min=0, help="Lines to show from the end of each log."),
) -> None:
    """Show instance logs behind an instance prefix; -f follows them and picks up logs that appear later."""
    import functools

    from rich.console import Console

    from tasker_cluster.cluster.logs import LogFollower, LogMultiplexer, select_sources
    from tasker_cluster.config.load import load_topology
    from tasker_cluster.ui.log_lines import LogPrinter

    project: Project = ctx.obj.project
    topology = load_topology(project)
    roles = [role for role, wanted in (("orchestration", orchestration), ("worker", workers)) if wanted]
    sources = select_sources(project, topology, names or (), roles)
    # Before the first line is printed: whoever has seen output may press Ctrl-C and must get a clean exit.
    stop = _stop_on_interrupt() if follow else None
    printer = LogPrinter(Console(), [source.instance for source in sources])
    followers = [LogFollower(source) for source in sources]
    try:
        _print_tails(followers, lines, printer, project, keep_partial=follow)
        if stop is not None:
            discover = functools.partial(select_sources, project, topology, names or (), roles)
            for batch in LogMultiplexer(followers, discover=discover).follow(stop):
                printer.print(batch)
    except BrokenPipeError:
        # `cluster logs -f | head` closing the pipe is a normal way to stop reading.
        _silence_stdout()
    finally:
        for follower in followers:
            follower.close()


def _print_tails(
    followers: Sequence[LogFollower], count: int, printer: LogPrinter, project: Project, *, keep_partial: bool
) -> None:
    """Print the end of every log that exists and one line naming those that do not; without -f, a selection
    with no log at all is an error."""
    from rich.console import Console

    from tasker_cluster.cluster.logs import LogLine
    from tasker_cluster.errors import ClusterError

    missing = []
    for follower in followers:
        instance = follower.source.instance
        tail = follower.start_at_tail(count)
        if tail is None:
            missing.append(instance)
            continue
        shown = tail.lines
        if not keep_partial and tail.partial:
            # Nothing follows, so the unfinished last line (often a crash message) is shown as it is.
            shown = [*shown, tail.partial][-count:] if count else []
        printer.print(LogLine(instance, text) for text in shown)
    if len(missing) == len(followers) and not keep_partial:
        raise ClusterError(
            f"no log file for {_listing(missing)} in {project.logs_dir}",
            "start the instances first: cluster start-all",
        )
    if missing:
        Console(stderr=True, markup=False, highlight=False, soft_wrap=True).print(
            f"no log yet for {_listing(missing)} in {project.logs_dir} (a log starts with its instance)"
        )


def _stop_on_interrupt() -> threading.Event:
    """An event Ctrl-C sets: the handler only records the signal, the follow loop ends at its next check."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    return stop


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "any instance (none selected)"


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
