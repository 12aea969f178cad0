"""`cluster stop [NAME...] [--with-db]`: SIGTERM, SIGKILL after the grace period, remove PID files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.cluster.stop import InstanceStop
    from tasker_cluster.config.model import ClusterConfig, DatabaseSpec


def stop(project: Project, *, names: Sequence[str], timeout: float | None, with_db: bool, yes: bool) -> int:
    """0 when nothing named still runs (and the database is stopped, if asked)."""
    from tasker_cluster.cluster.stop import (
        SUCCESSFUL,
        database_left_running,
        display_order,
        in_order,
        stop_instances,
        stop_with_database,
    )

    if yes and not with_db:
        raise ClusterError("--yes only applies with --with-db", "add --with-db, or drop --yes", exit_code=2)
    # A plain `stop` needs no configuration to know what to stop (the PID records say it): it reads it only for
    # the database's note, once the instances have their SIGTERM.
    plain = not names and not with_db
    config, database = (None, None) if plain else _configuration(project)
    left_running: list[InstanceStop | None] = [None]
    order: list[str] = []

    def meanwhile() -> None:
        # The instances are shutting down: what remains to be done here costs them no time.
        import tasker_cluster.ui.events  # noqa: F401

        if plain:
            topology, spec = _configuration(project)
            # Without the configuration the records alone order the results (by service name): the lines come in
            # the status table's order, which the topology gives, so that the two read alike.
            order.extend(display_order(project, topology))
            if not isinstance(spec, ClusterError):
                left_running[0] = database_left_running(project, spec)

    if with_db:
        assert database is not None
        results, stopped_database = stop_with_database(
            project, config, database, names, timeout=timeout, force_external=yes, meanwhile=meanwhile
        )
    else:
        results = in_order(stop_instances(project, config, names, timeout=timeout, meanwhile=meanwhile), order)
        stopped_database = left_running[0]
    from tasker_cluster.ui.events import print_stop

    failed = stopped_database if stopped_database is not None and stopped_database.outcome == "failed" else None
    print_stop(results, None if failed else stopped_database)
    survivors = [result for result in results if result.outcome not in SUCCESSFUL]
    if failed is not None:
        done = "the instances were stopped" if not survivors else "some instances survived"
        raise ClusterError(f"{done}, but the database was not: {failed.detail}", failed.fix)
    if survivors:
        raise ClusterError(
            f"{', '.join(result.name for result in survivors)} still running after SIGKILL",
            "a process in uninterruptible sleep (state D) cannot be killed; check `ps -o pid,stat,cmd` and retry",
        )
    return 0


def _configuration(project: Project) -> tuple[ClusterConfig | None, DatabaseSpec | ClusterError]:
    """The configuration, or None with a broken one: the PID records suffice to stop what runs. The database
    then comes from the [database] table alone, or is the error that keeps it from being known."""
    from tasker_cluster.config.load import load_config_leniently

    config, database, _ = load_config_leniently(project)
    return config, database
