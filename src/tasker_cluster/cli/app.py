"""The `cluster` command: the only place that turns errors into exit codes.

`main` first offers the command line to the fast path (`cli/fast_path.py`), which runs the plain forms of the
lifecycle commands without importing Typer (~45 ms of CPU, a third of a `status-quick`). Every other line goes to
the Typer app, built on first use: it stays the one definition of each command, its help and its errors.
Sub-command modules import the core inside each command, so a command pays only for what it uses.

No `from __future__ import annotations` here: the root callback is defined inside `typer_app`, and Typer reads
its annotations, which must therefore be real objects rather than names of this module's globals.
"""

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    import typer


class CliContext(NamedTuple):
    project: Project
    debug: bool


@cache
def typer_app() -> "typer.Typer":
    """The root Typer app with every sub-command registered."""
    import typer

    from tasker_cluster.cli import db, env, instances, logs, testing

    app = typer.Typer(
        name="cluster",
        help="Run, inspect and test a local multi-instance cluster.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        project_dir: Path | None = typer.Option(
            None,
            "--project-dir",
            envvar="TASKER_PROJECT_DIR",
            help="Project folder (default: the nearest with config/cluster.toml).",
        ),
        debug: bool = typer.Option(False, "--debug", help="Print a traceback for unexpected errors."),
    ) -> None:
        ctx.obj = CliContext(project=Project.discover(project_dir), debug=debug)

    env.register(app)
    instances.register(app)
    logs.register(app)
    app.add_typer(db.app, name="db")
    testing.register(app)
    return app


def __getattr__(name: str) -> Any:
    # `from tasker_cluster.cli.app import app` keeps working, at the price of building it.
    if name == "app":
        return typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _print_error(text: str) -> None:
    sys.stderr.write(f"error: {text}\n")


def main() -> None:
    from tasker_cluster.cli.fast_path import recognise

    fast = recognise(sys.argv[1:])
    try:
        if fast is not None:
            sys.exit(fast())
        typer_app()()
    except ClusterError as error:
        _print_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # A write the display did not guard met a reader that left (`| head`): the command was cut short.
        from tasker_cluster.ui.render import discard_stdout

        discard_stdout()
        sys.exit(1)
    except Exception as error:
        if "--debug" in sys.argv:
            raise
        _print_error(f"unexpected {type(error).__name__}: {error}\n  fix: re-run with --debug for a traceback")
        sys.exit(1)
