"""The `cluster` command: the only place that turns errors into exit codes.

Sub-command modules keep their top-level imports to typer alone and import the core inside each command, so
that `cluster status-quick` pays only for what it uses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from tasker_cluster.cli import db, environment, lifecycle, logs, runner
from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

app = typer.Typer(
    name="cluster",
    help="Run, inspect and test a local multi-instance cluster.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass(frozen=True)
class CliContext:
    project: Project
    debug: bool


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


environment.register(app)
lifecycle.register(app)
logs.register(app)
app.add_typer(db.app, name="db")
runner.register(app)


def _print_error(text: str) -> None:
    sys.stderr.write(f"error: {text}\n")


def main() -> None:
    try:
        app()
    except ClusterError as error:
        _print_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if "--debug" in sys.argv:
            raise
        _print_error(f"unexpected {type(error).__name__}: {error}\n  fix: re-run with --debug for a traceback")
        sys.exit(1)
