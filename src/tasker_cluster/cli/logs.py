"""`cluster logs [NAME...] [-f] [-n LINES] [--since WHEN] [--grep PATTERN] [--timestamps]`: the last lines of each
instance's log, filtered, optionally followed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.project import Project

if TYPE_CHECKING:
    import threading

    from tasker_cluster.cluster.logs import LogFollower, LogQuery
    from tasker_cluster.ui.log_lines import LogPrinter

# Without --since, -n's default: with --since, every line since then is shown.
DEFAULT_LINES = 20


def logs(
    project: Project,
    *,
    names: Sequence[str],
    orchestration: bool,
    workers: bool,
    follow: bool,
    lines: int | None,
    since: str | None,
    grep: str | None,
    timestamps: bool,
) -> int:
    from tasker_cluster.cluster.logs import LogFollower, LogMultiplexer, LogSource, select_sources
    from tasker_cluster.cluster.state import observe
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.console import console, discard_stdout
    from tasker_cluster.ui.log_lines import LogPrinter

    query = _query(lines, since, grep, timestamps)
    config = load_config(project)
    roles = [role for role, wanted in (("orchestration", orchestration), ("worker", workers)) if wanted]
    sources = select_sources(observe(project, config, check=False, with_logs=True), names, roles)
    # Before the first line is printed: whoever has seen output may press Ctrl-C and must get a clean exit.
    stop = _stop_on_interrupt() if follow else None
    printer = LogPrinter(console(), [source.instance for source in sources], timestamps=timestamps)
    followers = [LogFollower(source, query) for source in sources]
    try:
        _print_tails(followers, printer, project, keep_partial=follow)
        if stop is not None:

            def discover() -> list[LogSource]:
                return select_sources(observe(project, config, check=False, with_logs=True), names, roles)

            for batch in LogMultiplexer(followers, discover=discover, query=query).follow(stop):
                printer.print(batch)
    except BrokenPipeError:
        # `cluster logs -f | head` closing the pipe is a normal way to stop reading.
        discard_stdout()
    finally:
        for follower in followers:
            follower.close()
    return 0


def _query(lines: int | None, since: str | None, grep: str | None, timestamps: bool) -> LogQuery:
    """The lines asked for; ClusterError (exit 2) for a --since or --grep that cannot be read."""
    import time

    from tasker_cluster.cluster.logs import LogQuery, compile_pattern, parse_since

    count = lines if lines is not None else (None if since is not None else DEFAULT_LINES)
    return LogQuery(
        count=count,
        since=parse_since(since, time.time()) if since is not None else None,
        pattern=compile_pattern(grep) if grep is not None else None,
        timestamps=timestamps,
    )


def _print_tails(
    followers: Sequence[LogFollower], printer: LogPrinter, project: Project, *, keep_partial: bool
) -> None:
    """Print the end of every log that exists and one line naming those that do not; without -f, a selection
    with no log at all is an error."""
    from tasker_cluster.cluster.logs import running_since
    from tasker_cluster.errors import ClusterError
    from tasker_cluster.ui.log_lines import print_missing_logs, print_silent_instance

    missing = []
    for follower in followers:
        tail = follower.start_at_tail(with_partial=not keep_partial)
        if tail is None:
            missing.append(follower.source)
            continue
        shown = tail.lines
        if not keep_partial and tail.partial is not None:
            # Nothing follows, so the unfinished last line (often a crash message) is shown as it is.
            shown = [*shown, tail.partial]
        printer.print(shown)
    absent = []
    for source in missing:
        started = running_since(source)
        if started is None:
            absent.append(source.instance)
        else:
            print_silent_instance(source.instance, started)
    if len(absent) == len(followers) and not keep_partial:
        raise ClusterError(
            f"no log file for {_listing(absent)} in {project.logs_dir}",
            "start the instances first: cluster start-all",
        )
    if absent:
        print_missing_logs(_listing(absent), project.logs_dir)


def _stop_on_interrupt() -> threading.Event:
    """An event Ctrl-C sets: the handler only records the signal, the follow loop ends at its next check."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    return stop


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "any instance (none selected)"
