"""`cluster db up | down | status | url | reset`: the project's PostgreSQL with PGMQ."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from tasker_cluster.db.status import DatabaseStatus
    from tasker_cluster.project import Project

app = typer.Typer(help="Manage the project's PostgreSQL database.", no_args_is_help=True)


def _project(ctx: typer.Context) -> Project:
    return ctx.obj.project


def _announce(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def up(ctx: typer.Context) -> None:
    """Start the project's PostgreSQL (initdb on first use), install PGMQ, record DATABASE_URL in .env."""
    from tasker_cluster.db.control import ensure_database
    from tasker_cluster.db.urls import redact

    url = ensure_database(_project(ctx), announce=_announce)
    typer.echo(f"database ready: {redact(url)}")


@app.command()
def down(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Also stop an external DATABASE_URL server (loopback only)."),
) -> None:
    """Stop the local server: fast shutdown, immediate after a grace period. External servers need --yes."""
    from tasker_cluster.db.control import external_database_url, stop_database
    from tasker_cluster.db.urls import redact
    from tasker_cluster.errors import ClusterError

    project = _project(ctx)
    external = external_database_url(project)
    if external is not None and not yes:
        raise ClusterError(
            f"DATABASE_URL points at an external server ({redact(external)}); it was left running",
            "pass --yes to stop it anyway, or unset DATABASE_URL to manage the project's local server",
        )
    stopped = stop_database(project, force_external=yes)
    typer.echo("database stopped" if stopped else "database was not running")


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Running?, pid, port, version, data folder, size, connections, PGMQ version and queue depths."""
    from tasker_cluster.db.control import database_status

    report = database_status(_project(ctx))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_status(report)


@app.command()
def url(
    ctx: typer.Context,
    masked: bool = typer.Option(False, "--masked", help="Show the password as *** (for display, logs, screenshots)."),
) -> None:
    """Print the DATABASE_URL the cluster uses (external, or the local server's), password included for scripts."""
    from tasker_cluster.db.control import configured_database_url
    from tasker_cluster.db.urls import redact
    from tasker_cluster.errors import ClusterError

    found = configured_database_url(_project(ctx))
    if found is None:
        raise ClusterError(
            'the [database] mode is "none": this cluster uses no database',
            'set mode = "local" in the [database] table of config/cluster.toml, or set DATABASE_URL',
        )
    typer.echo(redact(found) if masked else found)


@app.command()
def reset(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask; required for an external DATABASE_URL."),
) -> None:
    """Drop and recreate the database with PGMQ: every task, step and queue message is lost."""
    from tasker_cluster.db.control import load_settings, reset_database
    from tasker_cluster.db.urls import redact
    from tasker_cluster.errors import ClusterError

    project = _project(ctx)
    if not yes:
        name = load_settings(project).name
        if not sys.stdin.isatty():
            raise ClusterError(f"reset drops the database {name!r} and needs confirmation", "pass --yes")
        typer.confirm(f"Drop and recreate the database {name!r}? All its data is lost.", abort=True)
    url = reset_database(project, force_external=yes, announce=_announce)
    typer.echo(f"database reset: {redact(url)}")


def _print_status(report: DatabaseStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    state = "[green]running[/]" if report.running else "[red]stopped[/]"
    if report.external and not report.running:
        state = "[red]unreachable[/]"
    rows = [
        ("database", f"{report.kind} — {state}"),
        ("url", report.url),
        ("pid", report.pid),
        ("port", report.port),
        ("version", report.version),
        ("data folder", report.data_dir),
        ("passwords", report.password_file),
        ("size", _megabytes(report.size_bytes)),
        ("connections", _ratio(report.connections, report.max_connections)),
        ("pgmq", report.pgmq_version or ("not installed" if report.version else None)),
        ("problem", report.problem),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, str(value))
    for queue, depth in report.queue_depths.items():
        table.add_row(f"  queue {queue}", str(depth))
    Console().print(table)


def _megabytes(size: int | None) -> str | None:
    return None if size is None else f"{size / 1_048_576:.1f} MB"


def _ratio(used: int | None, limit: int | None) -> str | None:
    return None if used is None else f"{used} / {limit}"
