"""`cluster setup-env`: write `.env` and the per-instance config files from the topology."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pathlib import Path

    from tasker_cluster.cluster.env import EnvironmentWritten
    from tasker_cluster.project import Project


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("setup-env")(setup_env)


def setup_env(
    ctx: typer.Context,
    orchestration: int | None = typer.Option(
        None, "--orchestration", min=0, help="Orchestration instances (default: .env, then the topology file)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Worker instances, split over the worker types in order."
    ),
) -> None:
    """Write .env (URLs, counts, DATABASE_URL) and config/generated/<instance>.toml; keeps your own keys."""
    from tasker_cluster.cluster.env import write_cluster_environment
    from tasker_cluster.config.load import load_topology

    project: Project = ctx.obj.project
    topology = load_topology(project, orchestration=orchestration, workers=workers)
    _print_summary(project, write_cluster_environment(project, topology))


def _print_summary(project: Project, written: EnvironmentWritten) -> None:
    from rich.console import Console

    from tasker_cluster.db.urls import redact

    console = Console(markup=False, highlight=False, soft_wrap=True)
    changed = f"{len(written.changed)} changed" if written.changed else "unchanged"
    console.print(f"{_relative(project, written.env_file)}: {len(written.values)} keys, {changed}")
    for key, value in written.values.items():
        marker = "*" if key in written.changed else " "
        console.print(f"  {marker} {key}={redact(value)}")
    if written.database_source in ("environment", ".env") and written.database_url:
        console.print(f"    DATABASE_URL kept from the {written.database_source}: {redact(written.database_url)}")
    if written.database_source == "local" and written.database_url is None:
        console.print(
            "    DATABASE_URL not yet: `cluster db up` (or start-all) creates the local database and writes it"
        )
    removed = f", removed {len(written.removed)} stale" if written.removed else ""
    console.print(f"{_relative(project, project.generated_dir)}/: {len(written.generated)} instance files{removed}")


def _relative(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)
