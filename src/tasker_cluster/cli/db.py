"""`cluster db up | down | status | url | reset`: the project's PostgreSQL with PGMQ."""

from __future__ import annotations

import sys

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project


def up(project: Project) -> int:
    from tasker_cluster.config.load import database_config
    from tasker_cluster.config.sources import read_sources
    from tasker_cluster.db.control import ensure_database
    from tasker_cluster.db.urls import redact
    from tasker_cluster.ui.console import print_line

    sources = read_sources(project, config_required=False)
    url = ensure_database(project, database_config(sources), sources.dotenv, announce=_announce)
    print_line(f"database ready: {redact(url)}")
    return 0


def down(project: Project, *, yes: bool) -> int:
    from tasker_cluster.cluster.database import stop_under_cluster
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.urls import redact
    from tasker_cluster.ui.console import print_line

    database = load_database_config(project)
    if database.external_url is not None and not yes:
        raise ClusterError(
            f"DATABASE_URL points at an external server ({redact(database.external_url)}); it was left running",
            "pass --yes to stop it anyway, or unset DATABASE_URL to manage the project's local server",
        )
    stopped, running = stop_under_cluster(project, database, force_external=yes)
    print_line("database stopped" if stopped else "database was not running")
    if running:
        print_line(
            f"warning: {', '.join(running)} still run without their database (they wait for it: `cluster db up`); "
            "`cluster stop` stops them",
            stderr=True,
        )
    return 0


def status(project: Project, *, as_json: bool) -> int:
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.control import database_status
    from tasker_cluster.ui.db_status import print_database_status

    found = database_status(project, load_database_config(project))
    print_database_status(found, as_json=as_json)
    # Like `status`: 0 only when healthy, so that scripts can wait on it (`until cluster db status; do ...`).
    return 0 if found.running and found.problem is None else 1


def url(project: Project, *, masked: bool) -> int:
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.urls import database_url, redact
    from tasker_cluster.ui.console import print_line

    found = database_url(project, load_database_config(project))
    if found is None:
        raise ClusterError(
            'the [database] mode is "none": this cluster uses no database',
            'set mode = "local" in the [database] table of config/cluster.toml, or set DATABASE_URL',
        )
    print_line(redact(found) if masked else found)
    return 0


def reset(project: Project, *, yes: bool) -> int:
    from tasker_cluster.cluster.database import refuse_reset_while_running, reset_under_cluster
    from tasker_cluster.config.load import database_config
    from tasker_cluster.config.sources import read_sources
    from tasker_cluster.db.urls import redact
    from tasker_cluster.ui.console import print_line

    sources = read_sources(project, config_required=False)
    database = database_config(sources)
    if not yes:
        refuse_reset_while_running(project)
        if not sys.stdin.isatty():
            raise ClusterError(f"reset drops the database {database.name!r} and needs confirmation", "pass --yes")
        import typer

        try:
            confirmed = typer.confirm(f"Drop and recreate the database {database.name!r}? All its data is lost.")
        except typer.Abort:  # Ctrl-D or Ctrl-C at the question
            confirmed = False
        if not confirmed:
            # A refusal, as apt's and git's "Abort.": said once, and a non-zero exit so that a script stops here.
            print_line("reset cancelled: the database was not touched", stderr=True)
            return 1
    done = reset_under_cluster(project, database, sources.dotenv, force_external=yes, announce=_announce)
    print_line(f"database reset: {redact(done.url)}")
    if done.stopped_again:
        print_line("database stopped again, as it was before the reset: `cluster db up` starts it")
    return 0


def _announce(message: str) -> None:
    from tasker_cluster.ui.console import print_line

    print_line(message, stderr=True)
