"""`cluster setup-env`'s report: the keys written to .env (`*` marks a changed one) and the generated files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasker_cluster.ui.console import print_line

if TYPE_CHECKING:
    from tasker_cluster.cluster.env import EnvironmentWritten
    from tasker_cluster.project import Project


def print_environment_written(project: Project, written: EnvironmentWritten) -> None:
    from tasker_cluster.db.urls import redact

    changed = f"{len(written.changed)} changed" if written.changed else "unchanged"
    print_line(f"{project.shown(written.env_file)}: {len(written.values)} keys, {changed}")
    for key, value in written.values.items():
        marker = "*" if key in written.changed else " "
        print_line(f"  {marker} {key}={redact(value)}")
    if written.database_source in ("environment", ".env") and written.database_url:
        print_line(f"    DATABASE_URL kept from the {written.database_source}: {redact(written.database_url)}")
    if written.database_source == "local" and written.database_url is None:
        print_line("    DATABASE_URL not yet: `cluster db up` (or start-all) creates the local database and writes it")
    removed = f", removed {len(written.removed)} stale" if written.removed else ""
    print_line(f"{project.shown(project.generated_dir)}/: {len(written.generated)} instance files{removed}")
