"""The `cluster` command: the only place that turns errors into exit codes.

`main` first offers the command line to the fast path (`cli/fast.py`), which runs the plain forms of the
commands with a speed bar without importing Typer; every other line goes to the Typer app (`cli/typer_app.py`).
Both are built from the one declaration of each command (`cli/commands.py`) and run the same bodies, which import
the core inside each command, so a command pays only for what it uses.
"""

from __future__ import annotations

import sys

from tasker_cluster.errors import ClusterError


def main() -> None:
    from tasker_cluster.cli.fast import recognise
    from tasker_cluster.ui.console import tolerate_unencodable

    tolerate_unencodable()
    fast = recognise(sys.argv[1:])
    try:
        if fast is None:
            from tasker_cluster.cli.typer_app import typer_main

            sys.exit(typer_main(sys.argv[1:]))
        else:
            from tasker_cluster.project import Project

            sys.exit(fast.command.body()(Project.discover(fast.root["project_dir"]), **fast.values))  # type: ignore[operator]
    except ClusterError as error:
        _print_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # A write the display did not guard met a reader that left (`| head`): the command was cut short.
        from tasker_cluster.ui.console import discard_stdout

        discard_stdout()
        sys.exit(1)
    except Exception as error:
        if "--debug" in sys.argv:
            raise
        _print_error(f"unexpected {type(error).__name__}: {error}\n  fix: re-run with --debug for a traceback")
        sys.exit(1)


def _print_error(text: str) -> None:
    from tasker_cluster.ui.console import write_err

    write_err(f"error: {text}\n")
