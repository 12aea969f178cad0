"""`cluster logs [NAME...] [-f] [-n LINES]`: the last lines of each instance's log, optionally followed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.project import Project

if TYPE_CHECKING:
    import threading

    from tasker_cluster.cluster.logs import LogFollower
    from tasker_cluster.ui.log_lines import LogPrinter


def logs(
    project: Project, *, names: Sequence[str], orchestration: bool, workers: bool, follow: bool, lines: int
) -> int:
    from tasker_cluster.cluster.logs import LogFollower, LogMultiplexer, LogSource, select_sources
    from tasker_cluster.cluster.state import observe
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.console import console, discard_stdout
    from tasker_cluster.ui.log_lines import LogPrinter

    config = load_config(project)
    roles = [role for role, wanted in (("orchestration", orchestration), ("worker", workers)) if wanted]
    sources = select_sources(observe(project, config, check=False, with_logs=True), names, roles)
    # Before the first line is printed: whoever has seen output may press Ctrl-C and must get a clean exit.
    stop = _stop_on_interrupt() if follow else None
    printer = LogPrinter(console(), [source.instance for source in sources])
    followers = [LogFollower(source) for source in sources]
    try:
        _print_tails(followers, lines, printer, project, keep_partial=follow)
        if stop is not None:

            def discover() -> list[LogSource]:
                return select_sources(observe(project, config, check=False, with_logs=True), names, roles)

            for batch in LogMultiplexer(followers, discover=discover).follow(stop):
                printer.print(batch)
    except BrokenPipeError:
        # `cluster logs -f | head` closing the pipe is a normal way to stop reading.
        discard_stdout()
    finally:
        for follower in followers:
            follower.close()
    return 0


def _print_tails(
    followers: Sequence[LogFollower], count: int, printer: LogPrinter, project: Project, *, keep_partial: bool
) -> None:
    """Print the end of every log that exists and one line naming those that do not; without -f, a selection
    with no log at all is an error."""
    from tasker_cluster.cluster.logs import LogLine
    from tasker_cluster.errors import ClusterError
    from tasker_cluster.ui.log_lines import print_missing_logs

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
        print_missing_logs(_listing(missing), project.logs_dir)


def _stop_on_interrupt() -> threading.Event:
    """An event Ctrl-C sets: the handler only records the signal, the follow loop ends at its next check."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    return stop


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "any instance (none selected)"
