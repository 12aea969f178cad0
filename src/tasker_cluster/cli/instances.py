"""`cluster start-all | start | status | status-quick | stop`: the Typer definitions (options, help).

The database is part of the cluster here: started before the instances, shown first, stopped on `stop --with-db`.

The bodies live in `cli/commands.py`, shared with the fast path (`cli/fast_path.py`), which takes the plain forms
of these commands without importing Typer; a test checks that both accept the same options.
"""

from __future__ import annotations

import typer

ORCHESTRATION_OPTION = typer.Option(
    None, "--orchestration", min=0, help="Orchestration instances (beats TASKER_ORCHESTRATION_INSTANCES and .env)."
)
WORKERS_OPTION = typer.Option(
    None, "--workers", min=0, help="Worker instances, split over the worker types (beats TASKER_WORKER_INSTANCES)."
)
WAIT_OPTION = typer.Option(True, "--wait/--no-wait", help="Wait until every instance answers its ready path.")
START_TIMEOUT_OPTION = typer.Option(
    None, "--timeout", min=0.1, help="Seconds to wait for readiness (default: each service's startup_timeout)."
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("start-all")(start_all)
    app.command("start")(start)
    app.command("status")(status)
    app.command("status-quick")(status_quick)
    app.command("stop")(stop)


def start_all(
    ctx: typer.Context,
    wait: bool = WAIT_OPTION,
    timeout: float | None = START_TIMEOUT_OPTION,
    orchestration: int | None = ORCHESTRATION_OPTION,
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Start every configured instance that is not running, then show the cluster's status."""
    _start(ctx, [], wait=wait, timeout=timeout, orchestration=orchestration, workers=workers)


def start(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        ..., metavar="NAME", help="Instance names (orchestration-1) or service names (worker-a)."
    ),
    wait: bool = WAIT_OPTION,
    timeout: float | None = START_TIMEOUT_OPTION,
    orchestration: int | None = ORCHESTRATION_OPTION,
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Start the named instances unless they are running."""
    _start(ctx, names, wait=wait, timeout=timeout, orchestration=orchestration, workers=workers)


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    timeout: float = typer.Option(2.0, "--timeout", min=0.05, help="Seconds for all health probes together."),
) -> None:
    """Query the database and probe every instance's health and ready paths; exit 0 only when all are healthy."""
    from tasker_cluster.cli import commands

    raise typer.Exit(commands.status(ctx.obj.project, as_json=as_json, timeout=timeout))


def status_quick(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Process states from PID files alone, no network; exit 0 only when all are running."""
    from tasker_cluster.cli import commands

    raise typer.Exit(commands.status_quick(ctx.obj.project, as_json=as_json))


def stop(
    ctx: typer.Context,
    names: list[str] | None = typer.Argument(
        None, metavar="NAME", help="Instance or service names (default: every running one)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.0, help="Seconds between SIGTERM and SIGKILL (default: each service's stop_grace)."
    ),
    with_db: bool = typer.Option(False, "--with-db", help="Then stop the project's local PostgreSQL too."),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --with-db: also stop an external DATABASE_URL server (loopback only)."
    ),
) -> None:
    """SIGTERM each instance's process group, SIGKILL what outlives the grace period, remove PID files."""
    from tasker_cluster.cli import commands

    code = commands.stop(ctx.obj.project, names or [], timeout=timeout, with_db=with_db, yes=yes)
    raise typer.Exit(code)


def _start(
    ctx: typer.Context,
    names: list[str],
    *,
    wait: bool,
    timeout: float | None,
    orchestration: int | None,
    workers: int | None,
) -> None:
    from tasker_cluster.cli import commands

    code = commands.start(
        ctx.obj.project, names, wait=wait, timeout=timeout, orchestration=orchestration, workers=workers
    )
    raise typer.Exit(code)
