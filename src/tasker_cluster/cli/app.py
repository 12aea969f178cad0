"""The `cluster` command: the only place that turns errors into exit codes.

`main` first offers the command line to the fast path (`cli/fast.py`), which runs the plain forms of the
commands with a speed bar without importing Typer; every other line goes to the Typer app (`cli/typer_app.py`).
Both are built from the one declaration of each command (`cli/commands.py`) and run the same bodies, which import
the core inside each command, so a command pays only for what it uses.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from tasker_cluster.errors import ClusterError


def main() -> NoReturn:
    """Run `cluster` with `sys.argv`. SystemExit with the exit code, always (tests run it in their interpreter)."""
    code, _ = _run(sys.argv[1:])
    sys.exit(code)


def script() -> NoReturn:
    """The `cluster` console script: `main`, then, after a command of the fast path, an exit that skips the
    interpreter's teardown. Freeing every module and object a command loaded holds the command up after its last
    line (bench/README.md, "Exit"), and those commands leave the teardown nothing to do: their output is flushed
    here, their threads are daemons, and none registers work to run at exit. Any other command exits as `main`
    does."""
    code, fast = _run(sys.argv[1:])
    if not fast or _threads_to_finish():
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            # The reader left (`| head`) before the last lines: the command was cut short, as in `_run`.
            code = code or 1
    os._exit(code)


def _run(argv: list[str]) -> tuple[int, bool]:
    """(exit code, whether the fast path ran the command); an unexpected error with `--debug` propagates."""
    from tasker_cluster.cli.fast import recognise
    from tasker_cluster.ui.console import tolerate_unencodable

    tolerate_unencodable()
    fast = recognise(argv)
    try:
        if fast is None:
            from tasker_cluster.cli.typer_app import typer_main

            return typer_main(argv), False
        from tasker_cluster.project import Project

        return fast.command.body()(Project.discover(fast.root["project_dir"]), **fast.values), True  # type: ignore[operator]
    except ClusterError as error:
        _print_error(str(error))
        return error.exit_code, fast is not None
    except KeyboardInterrupt:
        return 130, False
    except BrokenPipeError:
        # A write the display did not guard met a reader that left (`| head`): the command was cut short.
        from tasker_cluster.ui.console import discard_stdout

        discard_stdout()
        return 1, False
    except Exception as error:
        if "--debug" in argv:
            raise
        _print_error(f"unexpected {type(error).__name__}: {error}\n  fix: re-run with --debug for a traceback")
        return 1, False


def _threads_to_finish() -> bool:
    """True while a thread that is not a daemon runs: the normal exit waits for it, and so must we."""
    import threading

    return any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread())


def _print_error(text: str) -> None:
    from tasker_cluster.ui.console import write_err

    write_err(f"error: {text}\n")
