"""The database as part of the cluster: what resetting or stopping it does to the instances that use it.

`db reset` refuses while instances run: it drops their tables and queues under them, which they cannot recover
from. `db down` stops the server and warns, naming them, as `docker compose stop db` leaves the services that
depend on it running: an outage is something the instances ride out (they report not ready and reconnect once the
server is back, `cluster db up`), so stopping it is the user's call, and `cluster stop --with-db` stops both.
Both hold the start lock, so no instance starts between the check and the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tasker_cluster.cluster.state import observe
from tasker_cluster.cluster.stop import LOCK_TIMEOUT
from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.lock import start_lock
from tasker_cluster.project import Project
from tasker_cluster.words import counted

if TYPE_CHECKING:
    from tasker_cluster.db.control import DatabaseReset


def running_instances(project: Project) -> list[str]:
    """The instances that run now, by their PID records (the topology may be broken or changed since)."""
    return [state.name for state in observe(project, None).instances if state.alive]


def reset_under_cluster(
    project: Project,
    database: DatabaseSpec,
    dotenv: Mapping[str, str],
    *,
    force_external: bool,
    announce: Callable[[str], None],
) -> DatabaseReset:
    """Drop and recreate the database (`db/control.reset_database`) once no instance runs; what it did.

    ClusterError naming the running instances, with `cluster stop` as the fix, when any does.
    """
    from tasker_cluster.db.control import reset_database

    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=announce):
        refuse_reset_while_running(project)
        return reset_database(project, database, dotenv, force_external=force_external, announce=announce)


def refuse_reset_while_running(project: Project) -> None:
    """ClusterError naming the instances that run, with `cluster stop` as the fix, when any does. Also asked before
    `db reset` asks for confirmation, so that a yes is never answered with a refusal; the check under the start
    lock (`reset_under_cluster`) is the one that holds."""
    running = running_instances(project)
    if running:
        raise ClusterError(
            f"{counted(len(running), 'instance')} {_run(running)} on the database ({', '.join(running)}): a reset "
            "would drop their tables and queues under them",
            "`cluster stop` first, then `cluster db reset --yes` and `cluster start-all`",
        )


def stop_under_cluster(project: Project, database: DatabaseSpec, *, force_external: bool) -> tuple[bool, list[str]]:
    """Stop the database server (`db/control.stop_database`): whether one was stopped, and the instances that
    still run and have lost it (only when one was stopped)."""
    from tasker_cluster.db.control import stop_database

    with start_lock(project, timeout=LOCK_TIMEOUT, on_wait=lambda text: None):
        stopped = stop_database(project, database, force_external=force_external)
        return stopped, running_instances(project) if stopped else []


def _run(names: list[str]) -> str:
    return "runs" if len(names) == 1 else "run"
